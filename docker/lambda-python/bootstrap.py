"""Start the runtime interface client on $_HANDLER, with Lambda's module search path.

Run as `python3.12 /var/runtime/bootstrap.py`, so /var/runtime (awslambdaric, the SDK) is
already on the path after the script's folder; the function's code and then the layers come
first: /var/task, /opt/python/lib/python3.12/site-packages, /opt/python, /var/runtime, the
standard library, /var/lang/lib/python3.12/site-packages.
"""

import os
import sys

task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
layers = ["/opt/python/lib/python3.12/site-packages", "/opt/python"]
sys.path[:0] = [path for path in [task_root, *layers] if path not in sys.path]

from awslambdaric import __main__ as runtime_interface_client  # noqa: E402


def main() -> None:
    runtime_interface_client.main([sys.argv[0], os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
