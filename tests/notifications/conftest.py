import pytest

from .servers import Inbox, WebhookReceiver, free_port


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free port; DEALPILOT_EMAIL_URL points at it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.DEALPILOT_EMAIL_URL = f"smtp://127.0.0.1:{controller.port}?from=sales-ops@example.com"
    settings.DEALPILOT_BASE_URL = "https://dealpilot.example.com"
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def hook_receiver():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def with_emails(org):
    for user in (org.rep_emea, org.rep_dach, org.rep_amer, org.manager_emea, org.manager_amer, org.leader, org.admin):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    return org
