"""The HTTP baseline: FastAPI doing nothing but answering 202 with a small JSON body."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/jobs/ping")
async def ping() -> JSONResponse:
    return JSONResponse({"id": "0" * 32, "status": "queued"}, status_code=202)
