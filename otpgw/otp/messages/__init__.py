"""The messages service: bulk and scheduled SMS through ``/messages``, their batches,
inbound SMS, and the webhook events they raise. See ``service`` for the rules."""
from .service import MessageService
from .types import BatchView, InboundPage, InboundView, MessageView, SubmitRequest, SubmitResult
from .webhooks import GatewayWebhooks, gateway_webhooks

__all__ = ["BatchView", "GatewayWebhooks", "InboundPage", "InboundView", "MessageService", "MessageView",
           "SubmitRequest", "SubmitResult", "gateway_webhooks"]
