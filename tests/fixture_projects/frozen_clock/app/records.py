import time
from dataclasses import dataclass
from datetime import datetime


@dataclass
class Record:
    name: str
    created_at: datetime
    updated_at: datetime | None = None


def create(name):
    return Record(name, created_at=datetime.now())


def save(record):
    time.sleep(0.002)  # writing it somewhere takes a moment
    record.updated_at = datetime.now()  # planted: a save stamps the record again, a moment after it was created
    return record
