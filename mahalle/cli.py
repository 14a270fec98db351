"""The `mahalle` console script: operations as subcommands, each a Django management command.

`mahalle SUBCOMMAND --help` shows the subcommand's own flags.
"""

import os
import sys

# Subcommand -> (management command, one-line description).
SUBCOMMANDS = {
    "serve": ("serve", "run the web server (waitress) on 127.0.0.1:8000"),
    "worker": ("db_worker", "run the background task worker"),
    "migrate": ("migrate", "create or upgrade the database schema"),
    "load-geo": ("load_geo", "load provinces and counties from the project's data folder"),
    "synth": ("synth", "generate a deterministic synthetic population"),
    "import": ("import_registry", "import households or persons from CSV/XLSX"),
    "createuser": ("create_user", "create a user with a role and org units"),
    "token": ("create_token", "create an API token for a user"),
    "simulate-activity": ("simulate_activity", "generate screening, tests, cases and follow-ups over weeks"),
    "lab-results": ("import_lab_results", "import lab results (CSV/XLSX) keyed by sample id"),
    "flag-missed-follow-ups": ("flag_missed_follow_ups", "flag yesterday's missed follow-ups (run daily)"),
    "rt": ("rt", "estimate Rt (Cori et al. 2013, as EpiEstim) from an incidence CSV; no database"),
    "rt-refresh": ("rt_refresh", "recompute Rt per province and county from the cases (run daily)"),
    "needs-catch-up": ("needs_catch_up", "record needs noticed in visits, follow-ups and deaths (run hourly or daily)"),
    "vulnerability-refresh": ("vulnerability_refresh", "recompute every household's vulnerability score (nightly)"),
    "tracing-link-cases": ("tracing_link_cases", "link contacts who became cases into their chains (catch-up)"),
    "aid-run-due": ("aid_run_due", "run the aid cycles that are due (run daily)"),
    "link": ("link_records", "link person-record CSVs from several sources into clusters; no database"),
    "link-eval-data": ("link_eval_data", "generate synthetic Persian agency lists with known truth"),
    "link-evaluate": ("link_evaluate", "pairwise precision, recall and F1 of a linkage against the truth"),
    "allocate": ("allocate", "allocate scarce stock from warehouses to regions (HiGHS); no database"),
    "demo": ("demo", "set up the demo database, users and data, then serve"),
}


def usage() -> str:
    lines = [
        "usage: mahalle SUBCOMMAND [options]   (mahalle SUBCOMMAND --help for its options)",
        "",
        "subcommands:",
    ]
    lines += [f"  {name:<24} {desc}" for name, (_, desc) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"mahalle: unknown subcommand '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    command_name = SUBCOMMANDS[name][0]
    command = load_command_class(get_commands()[command_name], command_name)
    try:
        # argv[1] is what the parser shows as the subcommand: "usage: mahalle import ...".
        command.run_from_argv(["mahalle", name, *rest])
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
