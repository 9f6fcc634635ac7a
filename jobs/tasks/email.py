"""`send_email`: one message over SMTP (server from settings)."""

from email.message import EmailMessage
from email.utils import make_msgid
from smtplib import SMTPException

import aiosmtplib
from pydantic import EmailStr, Field

from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job


class SendEmail(Model):
    to: EmailStr
    subject: str = Field(max_length=200)
    body: str = Field(max_length=100_000)


class EmailSent(Model):
    message_id: str


@job(max_tries=5, timeout=30, retry_on=(SMTPException, aiosmtplib.SMTPException, OSError))
async def send_email(ctx: JobContext, payload: SendEmail) -> EmailSent:
    """Send a plain-text email. Retried on SMTP and network errors."""
    settings = ctx.settings
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = payload.to
    message["Subject"] = payload.subject
    # One Message-ID for every try, so receivers can drop duplicates of a retried send.
    message["Message-ID"] = make_msgid(idstring=ctx.job_id, domain="jobs.local")
    message.set_content(payload.body)
    await ctx.progress(0.1, "connecting")
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        timeout=20,
    )
    return EmailSent(message_id=message["Message-ID"])
