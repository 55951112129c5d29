"""Transactional email providers: SendGrid v3 and Mailchimp Transactional (Mandrill)."""

from successcrew.integrations.email.mailchimp import MailchimpClient
from successcrew.integrations.email.sender import EmailMessage, EmailSender, SendResult
from successcrew.integrations.email.sendgrid import SendGridClient

__all__ = ["EmailMessage", "EmailSender", "MailchimpClient", "SendGridClient", "SendResult"]
