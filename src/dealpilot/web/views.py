from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dealpilot.crm.models import ApiToken
from dealpilot.crm.services import create_api_token, revoke_api_token


@login_required
def home(request):
    """The sales team lands on Today; enablement authors on the opportunities list."""
    from dealpilot.today.services import may_use_today

    return redirect("today:index" if may_use_today(request.user) else "crm:opportunity_list")


@login_required
def api_tokens(request):
    """The caller's personal API tokens: create one (shown once), see when each was last used, revoke."""
    created = None
    error = ""
    if request.method == "POST":
        try:
            token, created = create_api_token(request.user, request.POST.get("name", ""))
        except ValueError as exc:
            error = str(exc)
    tokens = ApiToken.objects.filter(user=request.user)
    status = 400 if error else 200
    return render(request, "web/api_tokens.html", {"tokens": tokens, "created": created, "error": error}, status=status)


@login_required
@require_POST
def revoke_token(request, pk: int):
    # someone else's token is a 404, like one that does not exist; one's own, already revoked, a message
    if not ApiToken.objects.filter(pk=pk, user=request.user).exists():
        raise Http404("No such token")
    if revoke_api_token(request.user, pk):
        messages.success(request, "The token is revoked: it no longer works.")
    else:
        messages.error(request, "That token was already revoked.")
    return redirect("web:api_tokens")
