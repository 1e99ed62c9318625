//! The helpdesk console, `/admin` (CONTRACT section 8; SECURITY A1-A3),
//! through the real router: every page, every action and every refusal,
//! each checked against the store and the audit log afterwards.

mod smoke;
