"""Your endpoints beside ours: a route of your own enqueues a job through `JobsDep` (the way
the seeds used `background_tasks.add_task`) and the job's typed result arrives."""

from email import message_from_bytes

import httpx
from fastapi import APIRouter, status
from pydantic import BaseModel, EmailStr

from jobs.client import JobClient
from jobs.layout.connection import RedisClient
from jobs.tasks.email import EmailSent, SendEmail, send_email
from jobs.worker.loop import Worker
from service.deps import JobsDep
from service.main import create_app
from settings import Settings
from tests.support.smtp_inbox import smtp_inbox


class Order(BaseModel):
    customer: str
    email: EmailStr


class OrderAccepted(BaseModel):
    confirmation_job: str


orders = APIRouter()


@orders.post("/orders", status_code=status.HTTP_202_ACCEPTED)
async def place_order(order: Order, jobs: JobsDep) -> OrderAccepted:
    """Before: `background_tasks.add_task(send_email, ...)`. Now: a durable job."""
    handle = await jobs.enqueue(
        send_email,
        SendEmail(to=order.email, subject="Order received", body=f"Thanks, {order.customer}!"),
    )
    return OrderAccepted(confirmation_job=handle.id)


async def test_own_route_enqueues_and_the_typed_result_arrives(
    settings: Settings, redis: RedisClient
) -> None:
    with smtp_inbox() as (inbox, port):
        settings = settings.model_copy(update={"smtp_port": port})
        app = create_app(settings)
        app.include_router(orders)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                answer = await client.post(
                    "/orders", json={"customer": "Ada", "email": "ada@example.com"}
                )
            assert answer.status_code == 202, answer.text
            job_id = answer.json()["confirmation_job"]
            await Worker(settings, burst=True, handle_signals=False).main()
            sent = await JobClient(redis, settings).handle(job_id, EmailSent).result(timeout=10)
    assert isinstance(sent, EmailSent) and job_id in sent.message_id
    [received] = [message_from_bytes(raw) for raw in inbox.messages]
    assert received["To"] == "ada@example.com" and received["Subject"] == "Order received"
