"""Provider webhooks, one module each on a shared base: SES through SNS, Postmark, Resend.

Each module verifies a request as its provider documents it and turns the payload into
``digest.suppression.Event`` objects; ``base`` holds what they share.
"""

from digest.web.webhooks.base import Refused, Webhook
from digest.web.webhooks.postmark import PostmarkWebhook
from digest.web.webhooks.resend import ResendWebhook
from digest.web.webhooks.ses import SesWebhook

__all__ = ["PostmarkWebhook", "Refused", "ResendWebhook", "SesWebhook", "Webhook"]
