"""Invalidations of the API's per-process caches, driven by model signals.

They live here, connected by `api.apps.ApiConfig.ready`, rather than beside the models: the caches belong
to the API layer, and the domain apps (accounts) must not import it. Signals fire on every save, whoever
writes (services, admin, shell), so no write path can forget the invalidation.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User, user_cache_key
from api.cache import user_memo


# post_delete too, although users are never deleted (accounts.models refuses it): a row that goes away by
# some path the refusal does not cover must not stay authenticatable from the memo.
@receiver(post_save, sender=User, dispatch_uid="api.forget_memoized_user_on_save")
@receiver(post_delete, sender=User, dispatch_uid="api.forget_memoized_user_on_delete")
def forget_memoized_user(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Every save (a deactivation above all) clears this process's copy of the row read by authentication
    (accounts.selectors.user_for_authentication): now, and again after the commit, in case a request read
    the old row in between. Other processes keep theirs for at most api.cache.LOCAL_MEMO_SECONDS."""
    key = user_cache_key(instance.pk)
    user_memo.forget(key)
    transaction.on_commit(lambda: user_memo.forget(key))
