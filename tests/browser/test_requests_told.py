"""Directors are told that requests wait (the menu's count, a callout at home), and a member is told
on every page what a director decided; the admin's dashboard counts lead to the lists they count."""

from pathlib import Path

from app.access.models import AccessRequest
from app.accounts.models import Directorship
from app.keys.models import Key
from app.services.models import Service
from tests.support import sign_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"


def test_a_director_sees_requests_wait_and_the_member_reads_the_decision(
    page, second_page, db, make_user, key_factory
):
    key_id, _, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    member.username, member.state = "asker", "member"
    member.set_password(PASSWORD)
    corporation_id = db.session.get(Key, key_id).character.corporation_id
    director = make_user(role="director", username="decider", password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    service = Service(
        slug="srp",
        name="SRP",
        kind="webhook",
        request_states="member",
        requires_approval=True,
        directors_may_grant=True,
    )
    service.settings = {"url": "http://127.0.0.1:9/hook", "secret": "s"}
    db.session.add(service)
    db.session.flush()
    db.session.add(
        AccessRequest(user_id=member.id, service_id=service.id, status="pending", note="for my losses")
    )
    db.session.commit()

    sign_in(page, "decider", PASSWORD, "/")
    assert page.get_by_test_id("nav-director").inner_text().split() == [
        "Director",
        "1",
        "requests",
        "waiting",
    ]
    callout = page.get_by_test_id("requests-waiting")
    assert callout.inner_text().startswith("1 request for services waits for a director's decision.")
    page.screenshot(path=str(ARTIFACTS / "director-requests-waiting.png"))
    callout.get_by_role("link", name="Decide").click()
    page.wait_for_url(f"**/director/corporations/{corporation_id}")
    page.get_by_label("Reason").first.fill("Welcome aboard")
    page.get_by_role("button", name="Approve").first.click()
    page.get_by_text("approved").first.wait_for()
    page.goto("/")
    assert page.get_by_test_id("requests-waiting").count() == 0
    assert page.get_by_test_id("nav-director").inner_text().strip() == "Director"

    sign_in(second_page, "asker", PASSWORD, "/")
    notice = second_page.get_by_test_id("notice")
    assert "Your request for SRP was approved by decider: Welcome aboard." in notice.inner_text()
    assert "Welcome back" not in second_page.content()  # the home page greets, once
    second_page.screenshot(path=str(ARTIFACTS / "member-told-decision.png"))


def test_the_dashboard_counts_lead_to_the_lists_they_count(page, db, make_user, key_factory):
    key_factory(status="valid")
    make_user(role="admin", username="counter", password=PASSWORD)
    sign_in(page, "counter", PASSWORD, "/admin/")
    page.get_by_test_id("keys-by-status").get_by_role("link", name="1").first.click()
    page.wait_for_url("**/admin/keys?status=*")
    assert "status=pending" in page.url or "status=valid" in page.url
    page.goto("/admin/")
    page.get_by_test_id("users-by-state").get_by_role("link").first.click()
    page.wait_for_url("**/admin/users?state=*")
