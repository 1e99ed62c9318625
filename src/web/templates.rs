//! The HTML templates, compiled into the binary and all loaded at start.

use minijinja::{Environment, UndefinedBehavior, Value};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/templates/"]
struct Files;

/// The loaded template set. A template that does not parse stops start-up.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        // Any variable a template names but the handler did not pass is an error.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for name in Files::iter() {
            let file = Files::get(&name).expect("listed embedded file exists");
            let source = String::from_utf8(file.data.into_owned()).map_err(|_| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("template {name} is not UTF-8"),
                )
            })?;
            // `.html` names turn on HTML auto-escaping.
            env.add_template_owned(name.to_string(), source)?;
        }
        Ok(Self { env })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}
