#!/usr/bin/env python3
"""Drives the CityGate console in real headless Chromium (Debian `chromium` + `chromium-driver`, pip `selenium`).

Run by Tests/IntegrationTests/ConsoleBrowserTests.swift against an in-process gateway:

1. opens the console, signs in with the operator token, waits until the live alert feed is connected and prints
   READY (the Swift test then publishes the breaching messages with mosquitto_pub);
2. waits, without reloading the page, for the alert row of --ack-device to appear as firing, clicks Acknowledge and
   waits for the row to show it acknowledged by --operator-name; waits for the --other-device row too; saves
   --screenshot;
3. signs out, signs in with the viewer token: the rows are there, no Acknowledge or Resolve button is, and a direct
   POST /v1/alerts/<id>/acknowledge with the viewer token is answered 403; saves <screenshot>-viewer.png.

Prints one line per step (READY, ROW <id>, ACKED <id>, ...) and exits 0, or prints FAIL <reason> (with the
browser's console log) and exits 1. No timing is asserted: every wait is generous and only bounds a hung run.
"""
import argparse
import os
import shutil
import sys
import tempfile
import traceback

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for drivers online
os.environ.setdefault("SE_AVOID_STATS", "true")

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:
    print(f"FAIL Python selenium is missing ({error}); run scripts/setup.sh", flush=True)
    sys.exit(1)

WAIT = 120  # seconds; the whole test suite may be loading both cores


def say(*words):
    print(*words, flush=True)


def find_binary(names, what):
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
    raise RuntimeError(f"{what} not found (tried {', '.join(names)}); run scripts/setup.sh")


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = find_binary(["chromium", "chromium-browser", "/usr/lib/chromium/chromium"], "chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=find_binary(["chromedriver", "/usr/lib/chromium/chromedriver"], "chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


def wait_for(driver, what, condition):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}")


def sign_in(driver, token, name, role):
    box = wait_for(driver, "the sign-in form", lambda d: visible(d, "token"))
    box.clear()
    box.send_keys(token)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(driver, f"whoami to show {name} ({role})",
             lambda d: visible(d, "whoami") and name in d.find_element(By.ID, "whoami").text
             and role in d.find_element(By.ID, "whoami").text)
    wait_for(driver, "the alerts pane", lambda d: visible(d, "pane-alerts"))
    wait_for(driver, "the live alert feed to connect",
             lambda d: d.find_element(By.ID, "live").get_attribute("data-live") == "on")


def visible(driver, element_id):
    elements = driver.find_elements(By.ID, element_id)
    return elements[0] if elements and elements[0].is_displayed() else None


ROW_SCRIPT = """
const r = [...document.querySelectorAll('#alert-rows tr')].find((tr) => tr.dataset.device === arguments[0]);
if (!r) return null;
const by = r.querySelector('.acked-by');
return {id: r.dataset.alertId, state: r.dataset.state, acknowledged: r.dataset.acknowledged,
        acked_by: by ? by.textContent : null, actions: [...r.querySelectorAll('button')].map((b) => b.dataset.action)};
"""


def alert_row(driver, device):
    """What the console shows for the alert of `device`, read in one step (rows are rebuilt as events arrive)."""
    return driver.execute_script(ROW_SCRIPT, device)


def click_action(driver, device, action):
    """Clicks a row's button like a person would, finding it again if the row was just rebuilt."""
    for _ in range(20):
        buttons = driver.find_elements(By.CSS_SELECTOR, f'#alert-rows tr[data-device="{device}"] button[data-action="{action}"]')
        if not buttons:
            raise AssertionError(f"no {action} button on the alert of {device}")
        try:
            buttons[0].click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"the {action} button of {device} kept being replaced")


def severe_errors(driver):
    """Browser console errors other than the HTTP errors this script provokes on purpose."""
    entries = driver.get_log("browser")
    return [e["message"] for e in entries if e.get("level") == "SEVERE" and "status of 403" not in e["message"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the console, e.g. http://127.0.0.1:8080/console/")
    p.add_argument("--operator-token", required=True)
    p.add_argument("--operator-name", required=True)
    p.add_argument("--viewer-token", required=True)
    p.add_argument("--viewer-name", required=True)
    p.add_argument("--ack-device", required=True, help="the device whose alert the operator acknowledges")
    p.add_argument("--other-device", required=True, help="a device whose alert stays unacknowledged")
    p.add_argument("--screenshot", required=True, help="PNG written after the acknowledgement")
    args = p.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)

    profile = tempfile.mkdtemp(prefix="citygate-chromium-")
    try:
        driver = start_browser(profile)
    except Exception as e:
        say("FAIL", f"cannot start headless Chromium: {type(e).__name__}: {e}")
        shutil.rmtree(profile, ignore_errors=True)
        return 1
    try:
        driver.get(args.url)
        sign_in(driver, args.operator_token, args.operator_name, "operator")
        errors = severe_errors(driver)
        if errors:
            raise AssertionError("browser console errors after sign-in: " + " | ".join(errors))
        # A marker that a page reload would wipe: the row must arrive over the live feed, not by reloading.
        driver.execute_script("window.__citygateNoReload = 'kept';")
        say("READY")

        row = wait_for(driver, f"the alert of {args.ack_device} to appear firing",
                       lambda d: (r := alert_row(d, args.ack_device)) is not None and r["state"] == "firing" and r)
        alert_id = row["id"]
        assert row["acknowledged"] == "false", "a new alert must not be acknowledged yet"
        assert driver.execute_script("return window.__citygateNoReload") == "kept", "the page was reloaded"
        say("ROW", alert_id)

        click_action(driver, args.ack_device, "acknowledge")
        row = wait_for(driver, f"alert {alert_id} to show acknowledged by {args.operator_name}",
                       lambda d: (r := alert_row(d, args.ack_device)) is not None
                       and r["acknowledged"] == "true" and r["acked_by"] == args.operator_name and r)
        assert row["id"] == alert_id and "acknowledge" not in row["actions"], f"Acknowledge still offered: {row}"
        say("ACKED", alert_id)

        other = wait_for(driver, f"the alert of {args.other_device}",
                         lambda d: (r := alert_row(d, args.other_device)) is not None and r["state"] == "firing" and r)
        other_id = other["id"]
        assert "acknowledge" in other["actions"], f"an operator is not offered Acknowledge: {other}"
        counts = driver.find_element(By.ID, "counts").text
        say("COUNTS", counts.replace("\n", " "))
        errors = severe_errors(driver)
        if errors:
            raise AssertionError("browser console errors: " + " | ".join(errors))
        # The picture after the arrival highlight has faded (a CSS animation of a few seconds).
        wait_for(driver, "the arrival highlight to end",
                 lambda d: d.execute_script("return document.getAnimations().every((a) => a.playState !== 'running')"))
        driver.save_screenshot(args.screenshot)
        say("SCREENSHOT", args.screenshot)

        # The viewer: same alerts, no buttons, and the API refuses the acknowledgement.
        driver.find_element(By.ID, "sign-out").click()
        sign_in(driver, args.viewer_token, args.viewer_name, "viewer")
        other = wait_for(driver, f"the viewer to see the alert of {args.other_device}",
                         lambda d: (r := alert_row(d, args.other_device)) is not None and r)
        assert other["acknowledged"] == "false" and not other["actions"], f"a viewer is offered {other['actions']}"
        acked = alert_row(driver, args.ack_device)
        assert acked is not None and acked["acked_by"] == args.operator_name, f"the viewer sees {acked}"
        buttons = driver.find_elements(By.CSS_SELECTOR, "#alert-rows button")
        assert not buttons, f"a viewer is offered {len(buttons)} action buttons"
        status = driver.execute_async_script(
            """
            const [id, token, done] = arguments;
            fetch(new URL('../v1/alerts/' + id + '/acknowledge', location.href),
                  {method: 'POST', headers: {Authorization: 'Bearer ' + token}})
              .then((r) => done(r.status), (e) => done('error ' + e));
            """, other_id, args.viewer_token)
        assert status == 403, f"a viewer's acknowledge was answered {status}, not 403"
        say("VIEWER", other_id, status)
        base, ext = os.path.splitext(args.screenshot)
        driver.save_screenshot(f"{base}-viewer{ext or '.png'}")
        say("OK")
        return 0
    except Exception as e:  # report everything, keep a picture of the failure
        say("FAIL", f"{type(e).__name__}: {e}")
        traceback.print_exc()
        try:
            base, ext = os.path.splitext(args.screenshot)
            driver.save_screenshot(f"{base}-failure{ext or '.png'}")
            for entry in driver.get_log("browser"):
                say("BROWSER", entry.get("level"), entry.get("message"))
        except Exception:
            pass
        return 1
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
