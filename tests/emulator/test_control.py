"""The emulator's control API (/_emulator/), its reset, and the launcher's command line."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import unittest
from unittest import mock

from emutest import HERE, EmulatorTestCase, http

DEFAULTS = {
    "time_scale": 0.002,
    "durations": {"stack_create": 60, "stack_update": 30, "stack_delete": 30, "stack_rollback": 30,
                  "distribution_deploy": 300, "invalidation": 60, "change_set": 5, "replica_delay": 10800},
    "s3_list_bucket": True,
    "fail_delete_stacks": [],
}


class Config(EmulatorTestCase):
    def test_settings_read_merge_refuse_and_reset(self) -> None:
        status, settings = http("GET", f"{self.url}/_emulator/config")
        self.assertEqual((status, settings), (200, DEFAULTS))

        settings = self.configure(time_scale=0.5, durations={"invalidation": 1})
        self.assertEqual(settings["time_scale"], 0.5)
        self.assertEqual(settings["durations"], {**DEFAULTS["durations"], "invalidation": 1}, "durations merge")

        for wrong in ({"time_scale": "fast"}, {"durations": {"lunch": 60}}, {"colour": "blue"},
                      {"s3_list_bucket": "no"}, {"fail_delete_stacks": "site"}, ["time_scale"]):
            with self.subTest(wrong=wrong):
                status, answer = http("POST", f"{self.url}/_emulator/config", wrong)
                self.assertEqual(status, 400)
                self.assertIn("Error", answer)
        status, answer = http("POST", f"{self.url}/_emulator/config", {"time_scale": 1, "colour": "blue"})
        self.assertEqual(status, 400)
        self.assertEqual(http("GET", f"{self.url}/_emulator/config")[1]["time_scale"], 0.5, "all or nothing")

        self.assertEqual(http("POST", f"{self.url}/moto-api/reset")[0], 200)
        self.assertEqual(http("GET", f"{self.url}/_emulator/config")[1], DEFAULTS)

    def test_other_paths_and_methods(self) -> None:
        self.assertEqual(http("GET", f"{self.url}/_emulator/nothing")[0], 404)
        self.assertEqual(http("DELETE", f"{self.url}/_emulator/config")[0], 405)
        self.assertEqual(http("GET", f"{self.url}/_emulator/edge")[0], 405)
        self.assertEqual(http("POST", f"{self.url}/_emulator/edge", {})[0], 400)

    def test_edge_for_a_distribution(self) -> None:
        status, answer = http("POST", f"{self.url}/_emulator/edge", {"DistributionId": "E000000000000"})
        self.assertEqual(status, 404)
        self.assertIn("E000000000000", answer["Error"])

        from test_cloudfront import distribution_config

        dist_id = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1"))["Distribution"]["Id"]
        status, answer = http("POST", f"{self.url}/_emulator/edge", {"DistributionId": dist_id})
        if importlib.util.find_spec("edge") is None:
            self.assertEqual(status, 501)
            self.assertIn("edge.py", answer["Error"])
        else:
            self.assertEqual(status, 200, answer)
            self.assertRegex(answer["Url"], r"^http://127\.0\.0\.1:\d+$")


class MotoVersion(unittest.TestCase):
    def test_another_moto_is_an_error_under_ci_and_a_warning_elsewhere(self) -> None:
        import emulator

        with mock.patch.dict(os.environ, {"CI": "true"}):
            with self.assertRaises(emulator.MotoVersionError):
                emulator.check_moto_version("9.9.9")
            emulator.check_moto_version(emulator.MOTO_VERSION)
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertLogs("emulator", "WARNING"):
                emulator.check_moto_version("9.9.9")


class Launcher(unittest.TestCase):
    def test_listening_line_time_scale_and_exit_on_stdin_eof(self) -> None:
        child = subprocess.Popen(
            [sys.executable, str(HERE / "launcher.py"), "--port", "0", "--time-scale", "0.25", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = child.stdout.readline()
            self.assertRegex(line, r"^LISTENING http://127\.0\.0\.1:\d+\n$")
            url = line.split()[1]
            self.assertEqual(http("GET", f"{url}/_emulator/config")[1]["time_scale"], 0.25)
            http("POST", f"{url}/_emulator/config", {"time_scale": 1})
            http("POST", f"{url}/moto-api/reset")
            self.assertEqual(http("GET", f"{url}/_emulator/config")[1]["time_scale"], 0.25, "reset: the launch value")
            child.stdin.close()
            self.assertEqual(child.wait(timeout=10), 0)
            self.assertEqual(child.stdout.read(), "", "one line on stdout, nothing else")
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()


if __name__ == "__main__":
    unittest.main()
