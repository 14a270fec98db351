import datetime as dt
import json
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from mahalle.tracing.models import TransmissionLink

from .factories import case_for, contact_for, member_of


def test_link_cases_command_links_contacts_who_became_cases(people):
    index = case_for(people["post_a1"], onset_date=timezone.localdate() - dt.timedelta(days=4))
    contact = contact_for(index, member_of(people["post_a1"]))
    new_case = case_for(contact.person)
    out = StringIO()
    call_command("tracing_link_cases", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"cases": 1, "contacts_linked": 1}
    contact.refresh_from_db()
    assert contact.became_case == new_case
    assert TransmissionLink.objects.get().infector == index
    again = StringIO()
    call_command("tracing_link_cases", "--json", stdout=again)
    assert json.loads(again.getvalue()) == {"cases": 0, "contacts_linked": 0}
