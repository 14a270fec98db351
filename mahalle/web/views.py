"""The shell's own pages: the dashboard."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from mahalle.accounts.capabilities import Can, may
from mahalle.registry.selectors import registry_counts


@login_required
def home(request):
    return render(
        request,
        "home.html",
        {
            "counts": registry_counts(user=request.user),
            "can_write": may(request.user, Can.WRITE_PERSONAL),
        },
    )
