//! RTOK-3: no string is accepted as a callback token unless it was minted. The input is either
//! a raw string (never accepted), or claims to mint plus a byte to alter (the minted token is
//! accepted with exactly its claims; any alteration is refused).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use workflow_core::{uuid::Uuid, RunId, TenantId, UserId};
use workflow_runner::token::{TokenClaims, TokenKeys};

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(String),
    Minted {
        tenant: u128,
        run: u128,
        attempt: u32,
        user: u128,
        expires_at: i64,
        alter_at: usize,
        alter_to: u8,
    },
}

fn keys() -> TokenKeys {
    TokenKeys::new(vec![42; 32], Some(vec![7; 32])).expect("32-byte secrets")
}

fuzz_target!(|input: Input| {
    let keys = keys();
    let epoch = workflow_core::chrono::DateTime::UNIX_EPOCH;
    match input {
        Input::Raw(s) => {
            assert!(keys.verify(&s, epoch).is_err(), "accepted a token never minted: {s:?}");
        }
        Input::Minted { tenant, run, attempt, user, expires_at, alter_at, alter_to } => {
            let claims = TokenClaims {
                tenant_id: TenantId(Uuid::from_u128(tenant)),
                run_id: RunId(Uuid::from_u128(run)),
                attempt,
                user_id: UserId(Uuid::from_u128(user)),
                expires_at,
            };
            let token = keys.mint(&claims);
            if expires_at >= 0 {
                assert_eq!(keys.verify(&token, epoch).as_ref(), Ok(&claims));
            }
            let mut bytes = token.clone().into_bytes();
            let i = alter_at % bytes.len();
            if bytes[i] != alter_to {
                bytes[i] = alter_to;
                if let Ok(altered) = String::from_utf8(bytes) {
                    assert!(keys.verify(&altered, epoch).is_err(), "accepted an altered token");
                }
            }
        }
    }
});
