//! Rendering thousands of objects is work for every core: the items split into
//! one run per core, results kept in the items' order, so output stays the same
//! bytes however many cores there are; and freeing them is work for a thread of
//! its own.

use std::num::NonZeroUsize;
use std::thread;

/// `f` of every item, in order, computed on every core.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if cores == 1 || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    let run = items.len().div_ceil(cores);
    let f = &f;
    thread::scope(|scope| {
        let runs: Vec<_> = items
            .chunks(run)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().expect("a render thread does not panic"))
            .collect()
    })
}

/// Frees `value` on a thread of its own: thousands of objects take a while to
/// free, and the files made from them are ready before that.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    thread::spawn(move || drop(value));
}
