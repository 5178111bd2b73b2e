"""A real browser logs in as an admin and sees the dashboard shell."""

from pathlib import Path

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
