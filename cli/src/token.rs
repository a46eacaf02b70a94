//! `roomlink token`: mint a token with the server's secret.

#[derive(clap::Args)]
pub struct Args {
    /// User ID the token is for.
    #[arg(long)]
    user: String,
    /// Room the token is for; `*` for any room.
    #[arg(long, default_value = "*")]
    room: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
    #[command(flatten)]
    key: crate::key::TokenKey,
}

pub fn run(args: Args) -> Result<(), String> {
    println!("{}", args.key.mint(&args.user, &args.room, args.ttl_secs));
    Ok(())
}
