//! Submitting an import: make sure the RAM role exists (creating it when asked), then call
//! ImportImage, riding out the minute a new role takes to become effective.

use std::time::Instant;

use super::ecs::{self, Imported};
use super::ram;
use super::session::Session;
use crate::error::{Error, Result};
use crate::plan::Plan;

/// Check the role, create it if `create_role`, then ImportImage. `note` receives progress
/// messages for stderr.
pub fn submit(
    s: &Session,
    plan: &Plan,
    create_role: bool,
    note: &mut dyn FnMut(String),
) -> Result<Imported> {
    let created = ensure_role(s, create_role, note)?;
    import(s, plan, create_role, created, note)
}

/// Make sure the RAM role exists (creating it if `create_role`); true when it was created.
/// Run before an upload, so a missing role stops the import before hours of sending.
pub fn ensure_role(s: &Session, create_role: bool, note: &mut dyn FnMut(String)) -> Result<bool> {
    match ram::role_exists(&s.client, &s.ram) {
        Ok(true) => Ok(false),
        Ok(false) if create_role => {
            note(format!("creating RAM role {}", ram::ROLE_NAME));
            ram::create_role(&s.client, &s.ram).map_err(|e| ecs::explain("CreateRole", &e))?;
            Ok(true)
        }
        Ok(false) => Err(role_missing()),
        // Keys allowed to import but not to read RAM are common; ImportImage will say if the
        // role is really missing.
        Err(e) => {
            note(format!(
                "could not check the RAM role ({}); trying the import anyway",
                ecs::explain("GetRole", &e)
            ));
            Ok(false)
        }
    }
}

/// ImportImage, riding out the minute a role created by [`ensure_role`] takes to work.
pub fn import(
    s: &Session,
    plan: &Plan,
    create_role: bool,
    created: bool,
    note: &mut dyn FnMut(String),
) -> Result<Imported> {
    import_riding_role_delay(s, plan, create_role, created, note)
}

fn role_missing() -> Error {
    Error::Failed(format!(
        "the RAM role {} does not exist; ImportImage needs it to read the bucket. {}",
        ram::ROLE_NAME,
        ram::CREATE_ROLE_HINT
    ))
}

fn import_riding_role_delay(
    s: &Session,
    plan: &Plan,
    create_role: bool,
    mut created: bool,
    note: &mut dyn FnMut(String),
) -> Result<Imported> {
    let start = Instant::now();
    loop {
        let err = match ecs::import_image(&s.client, &s.ecs, plan) {
            Ok(i) => return Ok(i),
            Err(e) if ecs::is_role_missing(&e) => e,
            Err(e) => return Err(ecs::explain("ImportImage", &e)),
        };
        if !create_role {
            return Err(ecs::explain("ImportImage", &err));
        }
        if !created {
            // GetRole found a role but ECS does not accept it: attach the policy (again).
            ram::create_role(&s.client, &s.ram).map_err(|e| ecs::explain("CreateRole", &e))?;
            created = true;
        }
        if start.elapsed() >= s.timing.role_wait {
            return Err(ecs::explain("ImportImage", &err));
        }
        note("the new role is not effective yet; retrying ImportImage".into());
        std::thread::sleep(s.timing.poll.min(s.timing.role_wait));
    }
}
