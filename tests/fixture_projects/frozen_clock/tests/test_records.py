from app import records


def test_a_new_record_is_saved_unchanged():
    record = records.save(records.create("invoice"))
    assert record.updated_at == record.created_at
