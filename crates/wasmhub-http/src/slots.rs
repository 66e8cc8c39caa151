//! Instance slots: a request holds one of the host's and one of its component's while it runs.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A cap on instances alive at once, and the slots still free under it.
#[derive(Clone)]
pub struct Limit {
    max: u32,
    free: Arc<Semaphore>,
}

impl Limit {
    /// A cap of `max` instances (at least one).
    pub fn new(max: u32) -> Self {
        let max = max.max(1);
        Self {
            max,
            free: Arc::new(Semaphore::new(max as usize)),
        }
    }

    /// The cap.
    pub fn max(&self) -> u32 {
        self.max
    }

    fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.free.clone().try_acquire_owned().ok()
    }
}

/// The slots one request holds; both are freed when it is dropped.
pub struct Slots {
    _component: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

/// Which cap was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The component's own cap.
    Component(u32),
    /// The host's cap, shared by every component.
    Host(u32),
}

/// Takes a slot under the component's cap, then one under the host's; never waits.
pub fn take(host: &Limit, component: &Limit) -> Result<Slots, Full> {
    let own = component.try_take().ok_or(Full::Component(component.max))?;
    let shared = host.try_take().ok_or(Full::Host(host.max))?;
    Ok(Slots {
        _component: own,
        _host: shared,
    })
}

/// The cap for one component: its budget's `instances`, else `--max-component-instances`,
/// else all of the host's for a lone routed component and half of them when there are more;
/// never above the host's.
pub fn component_cap(own: Option<u32>, flag: Option<u32>, host: u32, routed: usize) -> u32 {
    let default = if routed > 1 { host / 2 } else { host };
    own.or(flag).unwrap_or(default).clamp(1, host.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_cap_and_the_host_cap_both_hold() {
        let host = Limit::new(3);
        let (a, b) = (Limit::new(2), Limit::new(2));
        let a1 = take(&host, &a).unwrap();
        let _a2 = take(&host, &a).unwrap();
        assert_eq!(take(&host, &a).err(), Some(Full::Component(2)));
        let _b1 = take(&host, &b).unwrap();
        assert_eq!(take(&host, &b).err(), Some(Full::Host(3)));
        // A refusal by the host gives the component's slot back.
        drop(a1);
        let _b2 = take(&host, &b).unwrap();
        assert_eq!(take(&host, &b).err(), Some(Full::Component(2)));
    }

    #[test]
    fn component_caps_default_to_a_share_of_the_host() {
        assert_eq!(component_cap(None, None, 1000, 1), 1000);
        assert_eq!(component_cap(None, None, 1000, 3), 500);
        assert_eq!(component_cap(None, Some(10), 1000, 3), 10);
        assert_eq!(component_cap(Some(4), Some(10), 1000, 3), 4);
        assert_eq!(component_cap(Some(5000), None, 1000, 1), 1000);
        assert_eq!(component_cap(None, None, 1, 2), 1);
    }
}
