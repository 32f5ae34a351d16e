"""The OctoPrint contract tests again, against the emulator (printers.octoprint_emulator).

Same tests, same driver: the emulator must behave like the real OctoPrint wherever the farm
depends on it. Here the emulated printer is reached under a path prefix (/printer/3), as
the load tests and demos reach it. The fleet link's asynchronous client and its push socket
are held to the same contract (test_octoprint_link_contract.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from printers.octoprint_emulator.server import EmulatorServer
from tests.printers.test_octoprint_contract import (  # noqa: F401  (fixtures and tests re-run here)
    driver,
    quick_gcode,
    slow_gcode,
    test_a_finished_run_reads_finished_and_is_not_printed_again,
    test_a_port_octoprint_does_not_have_is_refused_with_its_reason,
    test_a_second_dispatch_of_the_same_run_does_nothing,
    test_a_server_that_is_down_fails_transiently,
    test_a_three_megabyte_gcode_streams_to_the_printer_whole,
    test_a_wrong_api_key_fails_permanently_with_a_clear_message,
    test_another_run_while_printing_is_a_transient_busy,
    test_connect_uses_the_port_and_baud_of_the_settings,
    test_it_cancels,
    test_it_connects_a_disconnected_printer,
    test_it_pauses_and_resumes_with_explicit_actions,
    test_it_reads_version_and_build_volume,
    test_it_uploads_starts_and_reports_progress,
    test_it_works_behind_a_reverse_proxy_path_prefix,
    test_octorest_upload_alone_never_starts_a_print,
    test_status_connects_a_closed_octoprint_and_says_so,
)
from tests.printers.test_octoprint_link_contract import (  # noqa: F401  (the same, again)
    idle,
    test_a_server_that_is_down_is_offline_with_the_reason,
    test_the_link_connects_a_closed_octoprint_and_says_so,
    test_the_link_reads_the_status_as_the_driver_does,
    test_the_log_in_with_a_wrong_key_is_refused_as_the_driver_refuses_it,
    test_the_push_socket_pushes_a_print_start_as_an_event_and_in_current,
)


@dataclass
class _Peer:
    url: str
    api_key: str


@pytest.fixture(scope="module")
def octoprint() -> Iterator[_Peer]:
    # The same build volume as OctoPrint's _default profile, which the contract tests expect.
    server = EmulatorServer(
        ("127.0.0.1", 0),
        printers=4,
        api_key="EMULATED-KEY-0123456789",
        volume=(200.0, 200.0, 200.0),
    ).start()
    yield _Peer(url=f"{server.url}/printer/3", api_key=server.api_key)
    server.stop()
