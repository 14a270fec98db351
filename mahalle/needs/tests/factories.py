import factory
from django.core.files.uploadedfile import SimpleUploadedFile

from mahalle.needs.models import (
    Agency,
    AgencyKind,
    AgencyList,
    AgencyMember,
    LinkStatus,
    ReviewPair,
    SourceRecord,
    Support,
)

HEADER = (
    "record_id,national_code,first_name,last_name,father_name,birth_date,sex,mobile,province,county,address,"
    "need_kind,support,household_ref"
)


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"بنیاد {n}")
    kind = AgencyKind.FOUNDATION


class AgencyListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgencyList

    agency = factory.SubFactory(AgencyFactory)
    org_unit = None
    status = AgencyList.Status.DONE
    file_name = "list.csv"
    file_path = "/nonexistent/list.csv"
    file_sha256 = "0" * 64


class SourceRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SourceRecord

    agency_list = None
    agency = factory.LazyAttribute(lambda o: o.agency_list.agency)
    org_unit = factory.LazyAttribute(lambda o: o.agency_list.org_unit)
    org_path = factory.LazyAttribute(lambda o: o.org_unit.path)
    record_id = factory.Sequence(lambda n: f"R{n}")
    first_name = "فاطمه"
    last_name = factory.Sequence(lambda n: f"رضایی{n}")
    father_name = "حسن"
    need_kind = "food"
    support = "بسته معیشتی"
    raw = factory.LazyAttribute(lambda o: {"record_id": o.record_id})
    link_status = LinkStatus.PENDING


def member_of(agency, user) -> AgencyMember:
    return AgencyMember.objects.get_or_create(agency=agency, user=user)[0]


def pair_for(record, person, *, probability=0.9, decision="") -> ReviewPair:
    record.link_status = LinkStatus.REVIEW
    record.save()
    return ReviewPair.objects.create(
        source_record=record,
        person=person,
        org_path=record.org_path,
        match_probability=probability,
        evidence={"first_name": "exact"},
        decision=decision,
    )


def support_for(household, agency, kind="بسته معیشتی", ref="x") -> Support:
    return Support.objects.create(
        household=household,
        agency=agency,
        kind=kind,
        org_unit=household.org_unit,
        org_path=household.org_path,
        source_ref=ref,
    )


def csv_upload(rows: list[str], name="list.csv", header=HEADER, encoding="utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join([header, *rows]) + "\n").encode(encoding), "text/csv")
