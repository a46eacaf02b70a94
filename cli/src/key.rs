//! The token signing key shared by `serve`, `token` and `join` (same flags, same environment).

use roomlink_server::token::{Claims, mint};

#[derive(clap::Args, Clone)]
pub struct TokenKey {
    /// Application ID that tokens name.
    #[arg(long, env = "ROOMLINK_APP_ID", default_value = "roomlink-dev")]
    pub app_id: String,
    /// HMAC-SHA256 key tokens are signed with.
    #[arg(
        long,
        env = "ROOMLINK_TOKEN_SECRET",
        default_value = "dev-secret",
        hide_env_values = true
    )]
    pub token_secret: String,
}

impl TokenKey {
    /// A token for `user_id` in `room_id` (`*` = any room) valid for `ttl_secs` from now.
    pub fn mint(&self, user_id: &str, room_id: &str, ttl_secs: u64) -> String {
        let claims = Claims {
            app_id: self.app_id.clone(),
            user_id: user_id.into(),
            room_id: room_id.into(),
            expires_at_ms: roomlink_server::token::now_unix_ms()
                .saturating_add(ttl_secs.saturating_mul(1000)),
        };
        mint(&self.token_secret, &claims)
    }
}
