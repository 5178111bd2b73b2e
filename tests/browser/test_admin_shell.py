"""A real browser logs in as an admin and sees the dashboard shell."""

from pathlib import Path

from tests.support import sign_in, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_admin_logs_in_and_sees_the_dashboard(page, make_user, redis_client):
    from app.jobs import heartbeat

    make_user(role="admin", username="captain", password="fly safe o7 always")
    heartbeat.beat(redis_client)
    page.goto("/admin/")
    assert "/login" in page.url
    page.get_by_text("Admin account with a password").click()
    page.get_by_label("Username").fill("captain")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong username or password.").wait_for()
    page.get_by_label("Password").fill("fly safe o7 always")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
    assert page.get_by_role("heading", name="Operations").is_visible()
    assert page.get_by_test_id("health-badge").inner_text().strip() == "All systems fine"
    assert page.get_by_test_id("keys-by-status").is_visible()
    assert "captain" in page.get_by_test_id("current-user").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()


def test_the_health_badge_says_in_words_what_needs_attention(page, make_user, redis_client, db):
    import time

    from app.jobs import deadstore, heartbeat, pause, redis_keys

    make_user(role="admin", username="watcher", password="fly safe o7 always")
    heartbeat.beat(redis_client)
    pause.pause(redis_client, who="Ops Lead")
    redis_client.set(redis_keys.PAUSED, f"Ops Lead|{time.time() - 185:.0f}")  # three minutes ago
    deadstore.add(redis_client, "bastion.keys.validate", [7], {}, 10, "key:7", "GaveUp: no", "", 6)
    sign_in(page, "watcher", "fly safe o7 always", "/admin/")
    badge = page.get_by_test_id("health-badge").inner_text().strip()
    assert badge == "All work is paused by Ops Lead 3 min ago (and 1 more)"
    assert "1 dead task to retry or discard" in page.get_by_test_id("concerns").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-concerns.png"))
    pause.resume(redis_client)
    deadstore.take(redis_client, deadstore.page(redis_client, 0, 1)[0]["id"])
    redis_client.hset(redis_keys.governor("esi"), "backoff_until", time.time() + 600)
    page.reload()
    assert page.get_by_test_id("health-badge").inner_text().strip() == "esi is backed off"


def test_the_admin_sees_where_alerts_go_and_sends_a_test_alert(
    page, make_user, redis_client, alerting, consumer
):
    posted, smtp, env = alerting
    consumer(periodic=False, extra_env=env)
    make_user(role="admin", username="alerted", password="fly safe o7 always")
    sign_in(page, "alerted", "fly safe o7 always", "/admin/")
    card = page.get_by_test_id("alerts-card")
    assert "Discord webhook at 127.0.0.1" in card.inner_text()
    assert "ops@example.org, lead@example.org" in card.inner_text()
    card.get_by_role("button", name="Send a test alert").click()
    page.get_by_text(
        "A test alert is on its way to 127.0.0.1 and ops@example.org, lead@example.org."
    ).wait_for()
    wait_for(lambda: posted() and smtp.messages, timeout=30, message="the test alert at Discord and by mail")
    assert "A test alert, sent by alerted" in posted()[0]
    page.reload()
    assert "Last alert delivered" in page.get_by_test_id("alerts-card").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_test_id("alerts-card").screenshot(path=str(ARTIFACTS / "alerts-card.png"))


def test_the_audit_log_reads_in_words_with_long_details_behind_a_disclosure(page, make_user, db):
    from app.audit import record

    admin = make_user(role="admin", username="auditor", password="fly safe o7 always")
    record("key.invalid", target_type="key", target_id=7, detail="EVE refused the refresh token.")
    record("corp.renamed", admin, target_type="corporation", target_id=9, detail="x" * 300)
    db.session.commit()
    sign_in(page, "auditor", "fly safe o7 always", "/admin/audit")
    log = page.get_by_test_id("audit")
    assert log.get_by_text("Key turned invalid", exact=True).is_visible()
    assert log.get_by_text("Corp: renamed", exact=True).is_visible()
    disclosure = log.locator("details")
    assert disclosure.count() == 1 and not disclosure.locator("div").is_visible()
    disclosure.locator("summary").click()
    assert disclosure.locator("div").inner_text() == "x" * 300


def test_corporations_of_a_tracked_alliance_are_not_called_untracked(page, make_user, db):
    from app.corps.models import Alliance

    make_user(role="admin", username="tracker", password="fly safe o7 always")
    db.session.add(Alliance(id=99000001, name="Stellar Vanguard", ticker="STVG", tracked_as="member"))
    db.session.commit()
    sign_in(page, "tracker", "fly safe o7 always", "/admin/corporations")
    assert page.get_by_test_id("none-tracked-corporation").inner_text() == (
        "No corporation is tracked on its own: the corporations of the alliances above count through their "
        "alliance."
    )


def test_pages_say_one_thing_once_in_words(page, make_user, db, key_factory):
    from app.access.models import Grant
    from app.keys.models import Key
    from app.services.models import Service

    make_user(role="admin", username="reader", password="fly safe o7 always")
    key_id, _, _ = key_factory(status="valid")
    member = db.session.get(Key, key_id).user
    member.state, member.username = "member", "plainmember"
    member.set_password("fly safe o7 always")
    proxy = Service(slug="wiki", name="Wiki", kind="forward_auth", auto_states="member")
    db.session.add(proxy)
    db.session.flush()
    db.session.add(Grant(user_id=member.id, service_id=proxy.id, status="active"))
    db.session.commit()
    sign_in(page, "reader", "fly safe o7 always", "/admin/services")
    assert page.get_by_test_id("services").get_by_text("Forward auth", exact=True).is_visible()
    assert "forward_auth" not in page.get_by_test_id("services").inner_text()
    page.goto(f"/admin/users/{member.id}")
    heading = page.get_by_role("heading", level=1).inner_text()
    assert "member" not in heading  # the role "member" beside the state "member" read as "member member"
    assert "Role Role" not in page.locator("main").inner_text()
    assert page.get_by_text("State: member").is_visible()
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_test_id("user-keys").get_by_role("button", name="Remove").first.click()
    wait_for(lambda: dialogs, timeout=10, message="the confirmation")
    assert "The character stays on the account." in dialogs[0]

    page.get_by_role("button", name="Sign out", exact=True).click()
    sign_in(page, "plainmember", "fly safe o7 always", "/services")
    wiki = page.get_by_test_id("my-services").locator('[data-service="wiki"]')
    assert "an admin has not given its address yet" in wiki.inner_text()
