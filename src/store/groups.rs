//! Groups: names an app can require (CONTRACT section 7). Accounts keep the
//! keys of their groups in their own record.

use jiff::Timestamp;
use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{StoreError, encode, get_json};
use crate::domain::group::GroupName;

const NAME: &str = "groups";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: GroupName,
    pub created_at: Timestamp,
}

/// The groups table, in a read or a write transaction.
pub struct Groups<T> {
    table: T,
}

impl<T> Groups<T> {
    pub(super) fn new(table: T) -> Self {
        Self { table }
    }
}

impl<T: ReadableTable<&'static str, &'static [u8]>> Groups<T> {
    /// The group under its canonical key.
    pub fn get(&self, key: &str) -> Result<Option<GroupRecord>, StoreError> {
        get_json(&self.table, NAME, key)
    }

    /// Every group, in key order.
    pub fn all(&self) -> Result<Vec<GroupRecord>, StoreError> {
        self.table
            .iter()?
            .map(|entry| super::decode(NAME, entry?.1.value()))
            .collect()
    }
}

impl Groups<Table<'_, &'static str, &'static [u8]>> {
    pub fn put(&mut self, group: &GroupRecord) -> Result<(), StoreError> {
        self.table
            .insert(group.name.key(), encode(group).as_slice())?;
        Ok(())
    }

    /// Removes the group; whether it was there.
    pub fn remove(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.table.remove(key)?.is_some())
    }
}
