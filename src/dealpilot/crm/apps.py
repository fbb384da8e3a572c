from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "dealpilot.crm"
    label = "crm"
    verbose_name = "CRM records"

    def ready(self):
        from django.contrib.auth import user_logged_in
        from django.contrib.auth.models import update_last_login

        # A login updates last_login with one UPDATE instead of saving the person, which would add
        # an entry to their field history (kept for changes of role, team and rights) at every login.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(_store_last_login, dispatch_uid="dealpilot_store_last_login")

        from django.db.models.signals import post_delete, post_save

        from .models import Team
        from .visibility import forget_team_tree

        from django.db.models.signals import post_migrate

        from .services import ensure_default_lost_reasons

        post_migrate.connect(ensure_default_lost_reasons, sender=self, dispatch_uid="dealpilot_default_lost_reasons")
        post_save.connect(forget_team_tree, sender=Team, dispatch_uid="dealpilot_team_tree_saved")
        post_delete.connect(forget_team_tree, sender=Team, dispatch_uid="dealpilot_team_tree_deleted")


def _store_last_login(sender, user, **kwargs) -> None:
    from django.utils import timezone

    user.last_login = timezone.now()
    type(user)._base_manager.filter(pk=user.pk).update(last_login=user.last_login)
