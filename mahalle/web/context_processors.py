from mahalle.accounts.selectors import user_jurisdiction_units


def shell(request):
    """What every page shows: the user's name, role and jurisdiction."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    lang = getattr(request, "LANGUAGE_CODE", "fa")
    return {
        "shell_role": user.get_role_display(),
        "shell_units": [unit.name(lang) for unit in user_jurisdiction_units(user=user)],
    }
