//! `roomlink token`: mint a token with the server's secret.

use roomlink_server::token::{Claims, mint};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    user: String,
    /// Room the token is for; `*` for any room.
    #[arg(long, default_value = "*")]
    room: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
    #[arg(long, env = "ROOMLINK_APP_ID", default_value = "roomlink-dev")]
    app_id: String,
    #[arg(
        long,
        env = "ROOMLINK_TOKEN_SECRET",
        default_value = "dev-secret",
        hide_env_values = true
    )]
    token_secret: String,
}

pub fn run(args: Args) -> Result<(), String> {
    let claims = Claims {
        app_id: args.app_id,
        user_id: args.user,
        room_id: args.room,
        expires_at_ms: crate::unix_ms().saturating_add(args.ttl_secs.saturating_mul(1000)),
    };
    println!("{}", mint(&args.token_secret, &claims));
    Ok(())
}
