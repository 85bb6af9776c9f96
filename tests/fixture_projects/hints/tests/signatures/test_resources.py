import os
import resource


def test_open_every_report(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 8, hard))
    handles = []
    try:
        for index in range(32):
            handles.append(open(tmp_path / f"report-{index}.txt", "w"))  # planted leak: never closed
    finally:
        for handle in handles:
            handle.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
