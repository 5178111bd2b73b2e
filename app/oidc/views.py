"""The provider's endpoints: discovery, JWKS, authorize (by GET or POST, with a page saying why not
and a way back to the site), token, userinfo."""

import logging
import time

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError
from authlib.oidc.core.errors import LoginRequiredError
from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.access.explain import explain
from app.access.grants import grant_of
from app.accounts.auth import end_browser_session
from app.accounts.limits import limiter
from app.audit import record
from app.extensions import csrf, db
from app.keys.checks import standing_settles
from app.oidc import bp, keys
from app.oidc.forms import LogoutConfirmForm
from app.oidc.server import (
    active_grant,
    discovery,
    issuer,
    query_client,
    registered_logout_uris,
    server,
    signed_in_at,
)

log = logging.getLogger(__name__)


@bp.get("/.well-known/openid-configuration")
def configuration():
    """Where clients find the endpoints and what Bastion supports."""
    answer = jsonify(discovery())
    answer.headers["Cache-Control"] = "public, max-age=3600"
    return answer


@bp.get("/oauth/jwks")
def jwks():
    """The public keys ID tokens are signed with, current and recently retired."""
    answer = jsonify(keys.jwks())
    answer.headers["Cache-Control"] = "public, max-age=300"
    return answer


PROMPTS = {"none", "login", "consent", "select_account"}


@bp.post("/oauth/authorize")
@csrf.exempt  # a site's own page posts this form (OpenID Connect Core 3.1.2.1): nothing changes here
def authorize_by_post():
    """An authorization request sent as a form is the same request as one in the address: it goes
    on as a GET, which also brings the member's session cookie (SameSite=Lax keeps it from a
    cross-site POST)."""
    fields = request.form.to_dict(flat=True)
    if len(fields) > 40 or any(len(k) > 64 or len(v) > 4096 for k, v in fields.items()):
        return render_template("oidc/error.html", message="the request is too large."), 400
    return redirect(url_for("oidc.authorize", **fields), code=303)


@bp.get("/oauth/authorize")
def authorize():
    """Give the client a code for the signed-in member, if they hold its service; else say why not.

    prompt=none never shows a page: the site hears login_required or access_denied instead.
    prompt=login and a max_age older than the member's sign-in ask them to sign in again.
    """
    user = current_user if current_user.is_authenticated else None
    silent = "none" in request.args.get("prompt", "").split()
    try:
        grant = server.get_consent_grant(end_user=user)
        fresh_login = _fresh_login_needed(grant, user)
        if fresh_login and silent:
            raise LoginRequiredError(redirect_uri=grant.redirect_uri, state=grant.request.payload.state)
    except OAuth2Error as error:
        if error.redirect_uri:  # a known client at a registered address: tell it
            answer = server.handle_error_response(None, error)
            return answer if silent else _onwards(answer, None)
        message = error.description or error.error
        return render_template("oidc/error.html", message=message), 400
    if fresh_login:
        return _sign_in_again(user is not None)
    client = grant.client
    granted = active_grant(current_user, client) is not None
    if not granted and not silent and standing_settles(current_user)[1]:
        # A new member's key is still being checked (they came here first): wait for it, as the
        # home page does, then go on to the site, or read why not.
        page = render_template("oidc/checking.html", service=client.service)
        return page, 200, {"Cache-Control": "no-store", "Refresh": "2"}
    if not granted:
        service = client.service
        log.info("oidc: %s refused to user %s", service.slug, current_user.id)
        denied = server.handle_error_response(
            None,
            AccessDeniedError(
                f"{current_user.display_name} has no access to {service.name} through Bastion.",
                redirect_uri=grant.redirect_uri,
                state=grant.request.payload.state,
            ),
        )
        if silent:
            return denied
        held = grant_of(current_user, service)
        return render_template(
            "oidc/refused.html",
            e=explain(current_user, service, held),
            service=service,
            back=denied.headers["Location"],
        ), 403
    answer = server.create_authorization_response(grant_user=current_user, grant=grant)
    return answer if silent else _onwards(answer, client.service)


def _fresh_login_needed(grant, user):
    """True when the member must sign in (again) first: nobody is signed in, the site asked for a
    new sign-in (prompt=login), or the sign-in is older than the site's max_age. Bad values of
    prompt and max_age are the site's error (invalid_request)."""
    data = grant.request.payload.data
    prompts = set(data.get("prompt", "").split())
    if prompts - PROMPTS:
        raise InvalidRequestError(
            f"Unknown prompt value {sorted(prompts - PROMPTS)[0]!r}.",
            redirect_uri=grant.redirect_uri,
            state=grant.request.payload.state,
        )
    max_age = data.get("max_age")
    if max_age is not None and not (max_age.isdigit() and len(max_age) <= 10):
        raise InvalidRequestError(
            "max_age must be a whole number of seconds.",
            redirect_uri=grant.redirect_uri,
            state=grant.request.payload.state,
        )
    if user is None or "login" in prompts:
        return True
    if max_age is not None:
        signed_in = signed_in_at()
        return signed_in is None or time.time() - signed_in > int(max_age)
    return False


def _sign_in_again(signed_in):
    """To the sign-in page, and back to this request once signed in. A member signed in already is
    signed out of this browser first; the way back drops prompt=login and max_age, which the new
    sign-in answers (its time is the auth_time the ID token carries)."""
    args = request.args.to_dict(flat=True)
    args.pop("max_age", None)
    prompts = [p for p in args.pop("prompt", "").split() if p != "login"]
    if prompts:
        args["prompt"] = " ".join(prompts)
    again = url_for("oidc.authorize", **args)
    if signed_in:
        end_browser_session()
        flash("The site asks you to sign in again.", "info")
    return redirect(url_for("accounts.login", next=again))


def _onwards(answer, service):
    """Send the browser back to the site through a page rather than a redirect.

    A member who had to sign in first arrives here from the login form, and browsers apply the
    form-action policy to the redirects that follow a form; a page that moves on by itself is a
    fresh navigation, so the site's address needs no place in that policy.
    """
    target = answer.headers.get("Location")
    if answer.status_code not in (301, 302, 303, 307) or not target:
        return answer
    page = render_template("oidc/onwards.html", target=target, service=service)
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/oauth/token")
@csrf.exempt  # clients authenticate with their secret, not a browser session
@limiter.limit("600/minute")  # per address: a busy site swaps many codes
def token():
    """Swap a code or a refresh token for tokens."""
    return server.create_token_response()


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    """The claims about the token's user."""
    return server.create_endpoint_response("userinfo")


@bp.post("/oauth/revoke")
@csrf.exempt  # clients authenticate with their secret
@limiter.limit("600/minute")
def revoke():
    """RFC 7009: a site ends a token it holds."""
    return server.create_endpoint_response("revocation")


@bp.route("/oauth/logout", methods=["GET", "POST"])
@csrf.exempt  # a site may post it (RP-Initiated Logout 1.0); a sign-out it cannot prove asks first
def end_session():
    """A site signs its member out of Bastion too (RP-Initiated Logout 1.0).

    With an id_token_hint Bastion signed for the member signed in here, this browser's session
    ends at once; without one the member is asked, so no page can sign anyone out by a link. The
    member is then sent to the site's post_logout_redirect_uri, only if that site registered it.
    """
    asked = _logout_request(request.values)
    if isinstance(asked, str):
        return render_template("oidc/error.html", message=asked), 400
    hint, target = asked
    if not current_user.is_authenticated:
        return _after_logout(target)
    if hint is None or hint.get("sub") != str(current_user.id):
        form = LogoutConfirmForm(data={"target": target or ""})
        return render_template("oidc/logout.html", form=form, target=target)
    _end_browser_session()
    return _after_logout(target)


@bp.post("/oauth/logout/confirm")
def end_session_confirmed():
    """The member said yes to signing out (the form carries a CSRF token)."""
    form = LogoutConfirmForm()
    if not form.validate_on_submit():
        return render_template("oidc/error.html", message="the sign-out form expired; try again."), 400
    target = form.target.data or None
    if target is not None and not _registered_logout_target(target):
        return render_template("oidc/error.html", message="that address is not registered."), 400
    if current_user.is_authenticated:
        _end_browser_session()
    return _after_logout(target)


def _logout_request(values):
    """(verified id_token_hint claims or None, checked target with state or None), or why not."""
    hint = None
    if values.get("id_token_hint"):
        hint = keys.verified_claims(values["id_token_hint"], issuer())
        if hint is None:
            return "the id_token_hint is not an ID token Bastion signed."
    client_id = values.get("client_id")
    audience = hint.get("aud") if hint else None
    audience = [audience] if isinstance(audience, str) else list(audience or [])
    if client_id and audience and client_id not in audience:
        return "client_id is not the client the id_token_hint was issued to."
    target = values.get("post_logout_redirect_uri")
    if not target:
        return hint, None
    client = query_client(client_id or (audience[0] if audience else None))
    if client is None:
        return "post_logout_redirect_uri needs an id_token_hint or client_id to say which site asks."
    if target not in client.post_logout_uri_list:
        return "post_logout_redirect_uri is not registered for this site."
    state = values.get("state")
    if state:
        target = add_params_to_uri(target, [("state", state[:512])])
    return hint, target


def _registered_logout_target(target):
    """True when an address (with its state) came from a site's registered list."""
    base = target.split("?", 1)[0]
    return any(base == uri.split("?", 1)[0] for uri in registered_logout_uris())


def _end_browser_session():
    """Sign this browser out of Bastion (other browsers, and the member's Mumble password, stay)."""
    record("user.logout", current_user, target=current_user, detail="signed out by a site")
    db.session.commit()
    end_browser_session()


def _after_logout(target):
    if target:
        return redirect(target)
    flash("You are signed out of Bastion.", "info")
    return redirect(url_for("accounts.login"))
