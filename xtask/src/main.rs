//! joulebench's build tasks (being written).

mod fetch_data;
mod fetch_models;

type DynError = Box<dyn std::error::Error>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("fetch-data") => fetch_data::run(&args[1..]),
        Some("fetch-models") => fetch_models::run(&args[1..]),
        _ => Err("usage: cargo xtask <fetch-data|fetch-models>".into()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
