from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0004_user_events'),
    ]

    operations = [
        migrations.AddField(
            model_name='message',
            name='attachment_summary',
            field=models.JSONField(blank=True, db_default=models.Value([], models.JSONField()), default=list),
        ),
    ]
