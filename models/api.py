from tortoise import fields
from tortoise.models import Model


class RateLimitBucket(Model):
    """A leaky bucket of query cost per token (or per client address without one).

    Shared by every worker through the database. `version` makes each refill-and-take one
    guarded UPDATE, so concurrent requests never spend the same capacity twice.
    """

    key = fields.CharField(max_length=100, primary_key=True)
    available = fields.FloatField()
    updated_at = fields.FloatField()  # Unix time, so the arithmetic is the same on every database
    version = fields.IntField(default=0)

    class Meta:
        table = "rate_limit_bucket"


class PersistedQuery(Model):
    """A GraphQL document registered under its SHA-256.

    Registered in advance by an operator (`licensing queries register`), or automatically by an
    authenticated client (Apollo's protocol): those are a cache, the oldest evicted beyond a cap.
    """

    sha256 = fields.CharField(max_length=64, primary_key=True)
    query = fields.TextField()
    created_at = fields.DatetimeField()
    automatic = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "persisted_query"
        indexes = (("automatic", "created_at"),)
