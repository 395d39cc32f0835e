//! A cache bounded in bytes, shared by threads: qcow2's L2 tables and decompressed clusters,
//! pages of a VHDX BAT. Lookups take a read lock for a moment; nothing is read from disk or
//! inflated under a lock. When full it is emptied (cheap, and the working set of a sequential
//! reader is small).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub struct Cache<T: ?Sized> {
    max_bytes: usize,
    inner: RwLock<(HashMap<u64, Arc<T>>, usize)>,
}

impl<T: ?Sized> Cache<T> {
    pub fn new(max_bytes: usize) -> Self {
        Cache {
            max_bytes,
            inner: RwLock::new((HashMap::new(), 0)),
        }
    }

    pub fn get(&self, key: u64) -> Option<Arc<T>> {
        let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
        g.0.get(&key).cloned()
    }

    pub fn put(&self, key: u64, value: Arc<T>, bytes: usize) {
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if g.1.saturating_add(bytes) > self.max_bytes {
            g.0.clear();
            g.1 = 0;
        }
        if bytes <= self.max_bytes && g.0.insert(key, value).is_none() {
            g.1 += bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_bound() {
        let c: Cache<[u8]> = Cache::new(100);
        for k in 0..50 {
            c.put(k, Arc::from(vec![0u8; 30]), 30);
            let g = c.inner.read().unwrap();
            assert!(g.1 <= 100 && g.0.len() <= 3);
        }
        assert!(c.get(49).is_some());
    }
}
