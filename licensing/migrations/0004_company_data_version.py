from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('licensing', '0003_api_protection')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Company',
            name='data_version',
            field=fields.BigIntField(default=0, db_default=0),
        ),
    ]
