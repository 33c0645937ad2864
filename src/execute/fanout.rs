//! Fan-out: runs one job per host, at most `parallel` at once, and hands each result to the
//! caller on the calling thread as soon as it is in — so the timeline and the screen stay
//! single-threaded, in the order things happened. After `max_failures` failures no new host
//! is started.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

/// What became of the jobs that were not all run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Indices of the jobs never started because too many had failed.
    pub not_started: Vec<usize>,
}

/// Runs `run` over `jobs` on up to `parallel` threads. `on_done(index, result)` is called on
/// this thread for each finished job and says whether it failed.
pub fn run_all<J, R>(
    jobs: Vec<J>,
    parallel: usize,
    max_failures: Option<usize>,
    run: impl Fn(&J) -> R + Sync,
    mut on_done: impl FnMut(usize, R) -> bool,
) -> FanOut
where
    J: Send + Sync,
    R: Send,
{
    let total = jobs.len();
    if total == 0 {
        return FanOut::default();
    }
    let pending: Mutex<VecDeque<usize>> = Mutex::new((0..total).collect());
    let stop = AtomicBool::new(false);
    let workers = crate::execute::transport::fleet::parallel_cap(parallel.min(total)).max(1);
    // Each result travels with a way to tell its worker it has been judged: a worker starts
    // its next host only then, so `max_failures` is exact, not off by the hosts in flight.
    let (sender, receiver) = mpsc::channel::<(usize, R, mpsc::Sender<()>)>();
    let mut failures = 0;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (pending, stop, jobs, run) = (&pending, &stop, &jobs, &run);
            scope.spawn(move || {
                let (judged, wait_judged) = mpsc::channel();
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let next = pending.lock().map_or(None, |mut queue| queue.pop_front());
                    let Some(index) = next else { return };
                    let result = run(&jobs[index]);
                    if sender.send((index, result, judged.clone())).is_err()
                        || wait_judged.recv().is_err()
                    {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for (index, result, judged) in receiver {
            if on_done(index, result) {
                failures += 1;
                if max_failures.is_some_and(|max| failures >= max) {
                    stop.store(true, Ordering::SeqCst);
                }
            }
            let _ = judged.send(());
        }
    });
    let not_started = pending.into_inner().map(Vec::from).unwrap_or_default();
    FanOut { not_started }
}

/// [`run_all`] for jobs that take no time (the scripted commands of `runbook test`), on this
/// thread, the same every time: up to `parallel` jobs are started before the first is judged,
/// as with threads, and each judged job frees its place for the next one, results judged in
/// the order the jobs started. So `max_failures` stops the same hosts a fan-out whose hosts
/// answer in that order would stop. No open-files cap: nothing is opened.
pub fn run_all_in_order<J, R>(
    jobs: &[J],
    parallel: usize,
    max_failures: Option<usize>,
    run: impl Fn(&J) -> R,
    mut on_done: impl FnMut(usize, R) -> bool,
) -> FanOut {
    let total = jobs.len();
    let mut in_flight = VecDeque::new();
    let mut next = 0;
    while next < total.min(parallel.max(1)) {
        in_flight.push_back((next, run(&jobs[next])));
        next += 1;
    }
    let mut failures = 0;
    let mut stopped = false;
    while let Some((index, result)) = in_flight.pop_front() {
        if on_done(index, result) {
            failures += 1;
            stopped |= max_failures.is_some_and(|max| failures >= max);
        }
        if !stopped && next < total {
            in_flight.push_back((next, run(&jobs[next])));
            next += 1;
        }
    }
    FanOut {
        not_started: (next..total).collect(),
    }
}

/// Runs the jobs as tasks on `runtime` instead of threads, at most `parallel` at once:
/// `start(index, job)` makes a job's task (called on this thread just before it is spawned),
/// and `on_done(index, result)` is called on this thread for each finished job and says
/// whether it failed. A host in flight costs a task, not a thread: what lets a fan-out over
/// a thousand SSH hosts stay small. A job starts only once the results before it are judged,
/// so `max_failures` is exact, as with [`run_all`].
pub fn run_all_tasks<J, R, F>(
    runtime: &tokio::runtime::Runtime,
    jobs: &[J],
    parallel: usize,
    max_failures: Option<usize>,
    mut start: impl FnMut(usize, &J) -> F,
    mut on_done: impl FnMut(usize, R) -> bool,
) -> FanOut
where
    F: std::future::Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let total = jobs.len();
    if total == 0 {
        return FanOut::default();
    }
    let workers = crate::execute::transport::fleet::parallel_cap(parallel.min(total)).max(1);
    let mut next = 0;
    let mut failures = 0;
    let mut stopped = false;
    if workers == 1 {
        // One at a time: each job on this thread, no hand-over to a worker and back.
        while !stopped && next < total {
            let result = runtime.block_on(start(next, &jobs[next]));
            if on_done(next, result) {
                failures += 1;
                stopped = max_failures.is_some_and(|max| failures >= max);
            }
            next += 1;
        }
        return FanOut {
            not_started: (next..total).collect(),
        };
    }
    runtime.block_on(async {
        let mut running = tokio::task::JoinSet::new();
        loop {
            while !stopped && next < total && running.len() < workers {
                let task = start(next, &jobs[next]);
                let index = next;
                running.spawn(async move { (index, task.await) });
                next += 1;
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            // A task that panicked: the panic goes on here, as a worker thread's does.
            let (index, result) = match done {
                Ok(done) => done,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => continue,
            };
            if on_done(index, result) {
                failures += 1;
                if max_failures.is_some_and(|max| failures >= max) {
                    stopped = true;
                }
            }
        }
    });
    FanOut {
        not_started: (next..total).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn in_order_a_parallel_window_starts_before_the_first_is_judged() {
        let run = |n: &usize| *n;
        let order = |parallel, max_failures| {
            let started = std::cell::RefCell::new(Vec::new());
            let mut judged = Vec::new();
            let out = run_all_in_order(
                &[0, 1, 2, 3, 4],
                parallel,
                max_failures,
                |n: &usize| {
                    started.borrow_mut().push(*n);
                    run(n)
                },
                |i, r| {
                    judged.push(i);
                    r % 2 == 0
                },
            );
            (started.into_inner(), judged, out.not_started)
        };
        // One at a time: the first failure stops the rest.
        assert_eq!(order(1, Some(1)), (vec![0], vec![0], vec![1, 2, 3, 4]));
        // Two at a time: the second had started when the first failed.
        assert_eq!(order(2, Some(1)), (vec![0, 1], vec![0, 1], vec![2, 3, 4]));
        // Jobs 0 and 2 fail; with two allowed, job 3 had started already (it took 2's place).
        assert_eq!(
            order(2, Some(2)),
            (vec![0, 1, 2, 3], vec![0, 1, 2, 3], vec![4])
        );
        assert_eq!(
            order(32, None),
            (vec![0, 1, 2, 3, 4], vec![0, 1, 2, 3, 4], vec![])
        );
    }

    #[test]
    fn every_job_runs_once_and_results_come_back() {
        let mut seen = Vec::new();
        let out = run_all(
            (0..20).collect(),
            4,
            None,
            |n: &i32| n * 2,
            |i, r| {
                seen.push((i, r));
                false
            },
        );
        seen.sort();
        assert_eq!(
            seen,
            (0..20).map(|i| (i as usize, i * 2)).collect::<Vec<_>>()
        );
        assert!(out.not_started.is_empty());
    }

    #[test]
    fn no_more_than_parallel_at_once() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        run_all(
            (0..12).collect::<Vec<i32>>(),
            3,
            None,
            |_| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            },
            |_, ()| false,
        );
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn tasks_run_every_job_once_at_most_parallel_at_once() {
        let running = std::sync::Arc::new(AtomicUsize::new(0));
        let peak = std::sync::Arc::new(AtomicUsize::new(0));
        let mut seen = Vec::new();
        let out = run_all_tasks(
            &runtime(),
            &(0..12).collect::<Vec<i32>>(),
            3,
            None,
            |_, &n| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    n * 2
                }
            },
            |i, r| {
                seen.push((i, r));
                false
            },
        );
        seen.sort();
        assert_eq!(
            seen,
            (0..12).map(|i| (i as usize, i * 2)).collect::<Vec<_>>()
        );
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert!(out.not_started.is_empty());
    }

    #[test]
    fn tasks_stop_starting_after_max_failures() {
        for parallel in [1, 2] {
            // Every job fails: after the second failure nothing new starts (with two at
            // once, the third had started when the first failure was judged, as with
            // threads).
            let out = run_all_tasks(
                &runtime(),
                &(0..6).collect::<Vec<i32>>(),
                parallel,
                Some(2),
                |_, _| async {},
                |_, ()| true,
            );
            assert_eq!(
                out.not_started,
                (parallel + 1..6).collect::<Vec<_>>(),
                "{parallel}"
            );
        }
    }

    #[test]
    fn max_failures_stops_starting_new_hosts() {
        // One at a time, every job fails: after the first failure nothing new starts.
        let out = run_all(
            (0..5).collect::<Vec<i32>>(),
            1,
            Some(1),
            |_| (),
            |_, ()| true,
        );
        assert_eq!(out.not_started, vec![1, 2, 3, 4]);
    }
}
