"""Running one function over many items, in the calling thread or in several worker threads: the
decoding threads of a training pool (load_dataset.load_pairs' `workers`). Stopping is cooperative:
a threading.Event ends the work between items with Cancelled."""
import queue
import threading

from isp.progress import progress as progress_bar


class Cancelled(Exception):
    """The work stopped because its `stop` event was set (the caller is closing)."""


def for_each(count, work, workers=0, stop=None, desc="", show_progress=True):
    """work(k) for k in 0..count-1: here, or in `workers` threads (workers > 1). The first exception
    of any call is raised here (the other threads stop after their current call); a set `stop`
    event ends it between calls with Cancelled. No thread outlives the call."""
    bar = progress_bar(total=count, desc=desc, unit="img", leave=False, disable=not show_progress)
    try:
        if workers <= 1:
            for k in range(count):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                work(k)
                bar.update()
            return
        halt = threading.Event()
        todo = iter(range(count))
        lock = threading.Lock()
        done = queue.Queue()

        def worker():
            while not halt.is_set() and not (stop is not None and stop.is_set()):
                with lock:
                    k = next(todo, None)
                if k is None:
                    break
                try:
                    work(k)
                except BaseException as err:  # handed to the calling thread, which raises it
                    done.put(err)
                    break
                done.put(k)
            done.put(None)

        threads = [threading.Thread(target=worker, name="load-worker-%d" % j, daemon=True)
                   for j in range(min(workers, count))]
        error = None
        try:
            for t in threads:
                t.start()
            running = len(threads)
            while running:
                item = done.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    error = error or item
                    halt.set()
                else:
                    bar.update()
        finally:
            halt.set()  # also when the calling thread is interrupted (Ctrl-C while waiting)
            for t in threads:
                if t.ident is not None:
                    t.join()
        if error is not None:
            raise error
        if stop is not None and stop.is_set():
            raise Cancelled()
    finally:
        bar.close()
