//! E-mail over SMTP (lettre), or into `.eml` files when no SMTP server is configured so that
//! a first run needs nothing.

use crate::{Notifier, Outgoing, SendError, render};
use async_trait::async_trait;
use clef_core::notification::ChannelKind;
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465`
    /// (TLS); credentials as `smtps://user:password@host`. `None`: write `.eml` files.
    pub smtp_url: Option<String>,
    /// The sender, `Clef Pro <clef-pro@acme.example>`.
    pub from: String,
    /// Where `.eml` files go when there is no SMTP server.
    pub mail_dir: PathBuf,
    /// The dashboard's address, for links in messages.
    pub public_url: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid sender address: {0}")]
    From(String),
    #[error("cannot create the mail folder: {0}")]
    MailDir(#[from] std::io::Error),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

pub struct EmailNotifier {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of our Message-IDs.
    domain: String,
    public_url: Option<String>,
}

pub fn parse_address(raw: &str) -> Result<Address, String> {
    let raw = raw.trim();
    if raw.len() > 254 {
        return Err("an e-mail address has at most 254 characters".into());
    }
    raw.parse::<Address>().map_err(|e| format!("not an e-mail address: {e}"))
}

impl EmailNotifier {
    pub fn new(config: EmailConfig) -> Result<Self, EmailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| EmailError::From(e.to_string()))?;
        let domain = from.email.domain().to_owned();
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // The URL may hold a password: say what is wrong, never echo it.
                    .map_err(|e| EmailError::SmtpUrl(e.to_string().replace(url.as_str(), "<url>")))?
                    .timeout(Some(config.timeout))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&config.mail_dir)?;
                Transport::Files(AsyncFileTransport::new(&config.mail_dir), config.mail_dir.clone())
            }
        };
        Ok(Self { transport, from, domain, public_url: config.public_url })
    }

    /// One plain-text message that is not a digest (an invitation), sent now.
    pub async fn send_plain(&self, to: &str, subject: &str, text: &str) -> Result<String, SendError> {
        let to = parse_address(to).map_err(SendError::Invalid)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(text.to_owned())
            .map_err(|e| SendError::Invalid(format!("cannot build the message: {e}")))?;
        self.deliver(message).await
    }

    async fn deliver(&self, message: Message) -> Result<String, SendError> {
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(answer) => {
                    Ok(format!("{} {}", answer.code(), answer.message().collect::<Vec<_>>().join(" ")))
                }
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
            // The log is shown to every member: the file's name, not the server's folder.
            Transport::Files(files, _) => match files.send(message).await {
                Ok(id) => Ok(format!("written as {id}.eml in the server's mail folder (no SMTP server set)")),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
        }
    }

    /// What the notifier delivers through, for the start-up log (no credentials).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".into(),
            Transport::Files(_, dir) => format!(".eml files in {}", dir.display()),
        }
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn permanent_attempts(&self) -> u32 {
        3
    }

    async fn send(&self, m: &Outgoing<'_>) -> Result<String, SendError> {
        let to = parse_address(m.target).map_err(SendError::Invalid)?;
        let rendered = render(m.digest, m.target, self.public_url.as_deref())
            .map_err(|e| SendError::Invalid(format!("cannot render the message: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(rendered.subject)
            // Stable across retries: a receiver can tell a repeat from a new message.
            .message_id(Some(format!("<{}@{}>", m.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| SendError::Invalid(format!("cannot build the message: {e}")))?;
        self.deliver(message).await
    }
}
