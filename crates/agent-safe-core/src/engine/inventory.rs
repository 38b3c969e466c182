//! The target inventory, indexed by id and by Kubernetes coordinates.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Coordinate, Target};

/// Targets by id, and by Kubernetes name for resolving a target from params.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    targets: Vec<Arc<Target>>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Inventory {
    /// Indexes a list of targets (ids are unique: the loader checked).
    pub fn new(targets: Vec<Target>) -> Inventory {
        let mut inv = Inventory::default();
        for t in targets {
            let i = inv.targets.len();
            inv.by_id.insert(t.id.clone(), i);
            if let Some(name) = &t.name {
                inv.by_name.entry(name.clone()).or_default().push(i);
            }
            inv.targets.push(Arc::new(t));
        }
        inv
    }

    /// The target with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Target>> {
        self.by_id.get(id).and_then(|i| self.targets.get(*i))
    }

    /// Every target, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Target>> {
        self.targets.iter()
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are no targets.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Up to `limit` targets of one of `types` whose coordinates equal the
    /// given ones. `coords` must contain `name` (targets are indexed by name).
    pub fn find_by_coordinates(
        &self,
        types: &[String],
        coords: &[(Coordinate, &str)],
        limit: usize,
    ) -> Vec<&Arc<Target>> {
        let Some(name) = coords
            .iter()
            .find(|(c, _)| *c == Coordinate::Name)
            .map(|(_, v)| *v)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let Some(idx) = self.by_name.get(name) else {
            return out;
        };
        for target in idx.iter().filter_map(|i| self.targets.get(*i)) {
            if types.iter().any(|t| *t == target.target_type)
                && coords
                    .iter()
                    .all(|(c, v)| target.coordinate(*c).is_some_and(|tv| tv == *v))
            {
                out.push(target);
                if out.len() >= limit {
                    return out;
                }
            }
        }
        out
    }
}
