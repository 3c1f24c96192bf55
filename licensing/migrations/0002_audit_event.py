from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('licensing', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company', fields.ForeignKeyField('licensing.Company', source_field='company_id', db_constraint=True, to_field='id', related_name='audit_events', on_delete=OnDelete.RESTRICT)),
                ('action', fields.CharField(max_length=64)),
                ('subject_type', fields.CharField(max_length=64)),
                ('subject_id', fields.IntField()),
                ('actor_user_id', fields.IntField(null=True)),
                ('actor_token_id', fields.IntField(null=True)),
                ('details', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_event', 'app': 'licensing', 'indexes': [Index(fields=['company_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One change made through the service, written in the transaction that made it.'},
            bases=['Model'],
        ),
    ]
