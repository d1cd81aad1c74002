"""Sending one email through the platform's SMTP server, with the standard library only.

`smtplib` and `email` do all of it; what is ours is the policy: STARTTLS whenever the server
offers it, and required before a password is sent (a password never crosses the network in
clear); a bounded timeout on every network step, so a server that does not answer costs a
sensor tick seconds, not minutes; and errors that name the server but never the password.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from nope.owner_channels import SmtpServer

TIMEOUT_SECONDS = 10
"""Connecting, and each command after: an unreachable server is reported, never waited on."""


class MailError(Exception):
    """The message could not be handed to the server; the text names the server, never a secret."""


def send_email(server: SmtpServer, *, to: list[str], subject: str, body: str) -> None:
    """Hand one plain-text message for `to` to `server`; raises MailError saying why not."""
    message = EmailMessage()
    message["From"] = server.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    where = f"{server.host}:{server.port}"
    try:
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            elif server.user:
                raise MailError(f"{where} offers no STARTTLS; the SMTP password is not sent in clear")
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise MailError(f"{where} refused the login of NOPE_SMTP_USER (code {error.smtp_code})") from None
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"{where}: {type(error).__name__}: {error}") from None
