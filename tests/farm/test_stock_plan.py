"""The planner aware of the filament in stock: no change is asked for a material and colour
with no spool on the shelf that could finish the run; the job waits with a note, a low-stock
alert is raised, and printers that hold the filament print it."""

from __future__ import annotations

from typing import Any

from farm.models import Job, Material, Notification, NotifyEvent, Printer, Spool
from farm.scheduling import PrinterSlot, WorkItem
from farm.services.notifications import channel_save
from farm.services.scheduling import schedule_pass
from farm.services.stock_plan import Shelf, stock_limit
from tests.farm.records_helpers import queued_job


def petg_printer(make_printer: Any, name: str = "p1") -> Printer:
    return make_printer(name, material=Material.objects.create(name="PETG"), colour="black")


def test_without_spools_recorded_the_change_is_asked_as_before(
    alice: Any, pla: Material, make_printer: Any
) -> None:
    printer = petg_printer(make_printer)
    queued_job(alice, pla, quantity=1, colour="red")
    assert schedule_pass().filament_requests == 1
    assert Printer.objects.get(pk=printer.pk).requested_colour == "red"


def test_a_change_to_filament_out_of_stock_is_not_asked_and_the_job_says_why(
    alice: Any, operator: Any, pla: Material, make_printer: Any
) -> None:
    channel_save(user=operator, name="floor", url="json://127.0.0.1:9/", events=["low_stock"])
    printer = petg_printer(make_printer)
    Spool.objects.create(material=pla, colour="black", remaining_g=900)  # PLA is tracked
    job = queued_job(alice, pla, quantity=1, colour="red")
    result = schedule_pass()
    assert (result.runs_started, result.filament_requests) == (0, 0)
    assert Printer.objects.get(pk=printer.pk).requested_material is None
    job.refresh_from_db()
    assert job.plan_note == "no PLA red in stock" and job.planned_start is None
    alert = Notification.objects.get()
    assert (alert.event, alert.title) == (NotifyEvent.LOW_STOCK, "Out of stock: PLA red")
    schedule_pass()
    assert Notification.objects.count() == 1  # once a day


def test_a_spool_too_light_for_the_run_is_not_stock_and_a_full_one_is(
    alice: Any, pla: Material, make_printer: Any
) -> None:
    printer = petg_printer(make_printer)
    job = queued_job(alice, pla, quantity=1, colour="red")
    assert job.grams_per_copy and job.grams_per_copy > 2
    Spool.objects.create(material=pla, colour="Red", remaining_g=job.grams_per_copy / 2)
    assert schedule_pass().filament_requests == 0
    Spool.objects.create(material=pla, colour="red", remaining_g=900)
    assert schedule_pass().filament_requests == 1
    assert Printer.objects.get(pk=printer.pk).requested_colour == "red"
    assert Job.objects.get(pk=job.pk).plan_note == ""


def test_out_of_stock_work_goes_to_the_printer_holding_it_and_no_change_is_asked(
    alice: Any, pla: Material, make_printer: Any
) -> None:
    holder = make_printer("p1", colour="red")
    other = petg_printer(make_printer, "p2")
    Spool.objects.create(material=pla, colour="red", remaining_g=500, printer=holder)
    queued_job(alice, pla, quantity=500, colour="red")  # worth a second printer, were red stocked
    result = schedule_pass()
    assert (result.runs_started, result.filament_requests) == (1, 0)
    assert Printer.objects.get(pk=other.pk).requested_material is None
    assert Printer.objects.get(pk=holder.pk).current_run is not None


def slot(pk: int, material: str, colour: str) -> PrinterSlot:
    return PrinterSlot(pk, "s", "m", 0.0, material, colour, 0.4, (250.0, 210.0, 220.0))


def item(pk: int, material: str, colour: str, plate: int = 1) -> WorkItem:
    return WorkItem(pk, 10, 3600.0, material, colour, (20.0, 20.0, 20.0), copies_per_plate=plate)


def test_any_colour_is_in_stock_when_any_spool_of_the_material_is() -> None:
    shelf = Shelf(frozenset({"PLA"}), {("PLA", "white"): 300.0})
    slots = [slot(1, "PETG", "black")]
    work = [
        item(1, "PLA", ""),
        item(2, "PLA", "red"),
        item(3, "PLA", "", plate=5),
        item(4, "ABS", ""),
    ]
    out = stock_limit(slots, work, shelf, {1: 100.0, 2: 100.0, 3: 100.0})
    assert [w.job_id for w in out.items] == [1, 4]  # 3: a plate of five is 500 g; ABS untracked
    assert out.notes == {2: "no PLA red in stock", 3: "no PLA in stock"}
    assert out.slots[0].refused == frozenset({("PLA", "red")})  # nothing red on the shelf


def test_a_filament_whose_shelf_spools_are_too_light_for_every_run_goes_to_its_holders() -> None:
    shelf = Shelf(frozenset({"PLA"}), {("PLA", "red"): 300.0})
    holder, other = slot(1, "PLA", "red"), slot(2, "PETG", "black")
    out = stock_limit([holder, other], [item(1, "PLA", "red")], shelf, {1: 500.0})
    assert [w.job_id for w in out.items] == [1] and out.notes == {}  # the holder prints it
    assert out.slots[0].refused == frozenset()
    assert out.slots[1].refused == frozenset({("PLA", "red")})
    lighter = stock_limit([holder, other], [item(1, "PLA", "red")], shelf, {1: 200.0})
    assert lighter.slots[1].refused == frozenset()  # a shelf spool can finish it: ask
