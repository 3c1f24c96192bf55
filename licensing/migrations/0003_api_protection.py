from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('licensing', '0002_audit_and_purchases')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PersistedQuery',
            fields=[
                ('sha256', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('query', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'persisted_query', 'app': 'licensing', 'pk_attr': 'sha256', 'table_description': 'A GraphQL document registered under its SHA-256, for automatic persisted queries.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateLimitBucket',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('available', fields.FloatField()),
                ('updated_at', fields.FloatField()),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'rate_limit_bucket', 'app': 'licensing', 'pk_attr': 'key', 'table_description': 'A leaky bucket of query cost per token (or per client address without one).'},
            bases=['Model'],
        ),
    ]
