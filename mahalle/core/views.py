"""The shell's own pages: the dashboard."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from mahalle.accounts.models import PERSONAL_DATA_WRITE_ROLES
from mahalle.registry.selectors import registry_counts


@login_required
def home(request):
    return render(
        request,
        "home.html",
        {
            "counts": registry_counts(user=request.user),
            "can_write": request.user.has_role(PERSONAL_DATA_WRITE_ROLES),
        },
    )
