//! The create-run body (CREATE-1..7): ksapi's multipart form, or a JSON object with the same
//! fields.

use super::query::{parse_bool, parse_uuid};
use super::{body_bytes, parse_json};
use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use uuid::Uuid;
use workflow_core::{CreateRun, ErrorCode, Ingestion, NewUpload, PathPartId};

type ApiResult<T> = Result<T, ApiError>;

/// JSON variant of the create form.
#[derive(Debug, Default, serde::Deserialize)]
struct CreateRunJson {
    input_scope: Option<Vec<Uuid>>,
    idempotency_key: Option<String>,
    auto_start: Option<bool>,
    user_message: Option<String>,
    name: Option<String>,
    selected_skill_ids: Option<Vec<Uuid>>,
}

fn parse_id_list(field: &str, v: &str) -> ApiResult<Vec<Uuid>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(Vec::new());
    }
    if v.starts_with('[') {
        return serde_json::from_str(v).map_err(|e| {
            ApiError::unprocessable(format!("{field}: not a JSON array of UUIDs: {e}"))
        });
    }
    v.split(',').map(|s| parse_uuid(field, s)).collect()
}

/// Parse the create-run body by its content type: multipart (`files` become uploads, PENDING),
/// JSON, or empty. An unknown form field is ignored (HTTP-3); another content type is 400.
pub(crate) async fn parse_create_form<S: Send + Sync>(
    req: Request,
    state: &S,
) -> ApiResult<CreateRun> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut cmd = CreateRun::default();
    if content_type.starts_with("multipart/form-data") {
        let mut form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("multipart: {e}")))?;
        let multipart_err = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "request body is over the size limit",
                )
            } else {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("multipart: {}", e.body_text()),
                )
            }
        };
        let mut files = 0usize;
        while let Some(field) = form.next_field().await.map_err(multipart_err)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "files" || field.file_name().is_some() {
                files += 1;
                // A file part carries a file name (`format: binary`); a plain text part named
                // `files` is not an upload.
                let Some(file_name) = field.file_name().map(str::to_owned) else {
                    return Err(ApiError::unprocessable(
                        "files: each part must be a file (Content-Disposition with a filename)",
                    ));
                };
                let file_name = if file_name.is_empty() {
                    format!("upload-{files}")
                } else {
                    file_name
                };
                // The bytes are not kept: this server has no blob store. The upload is a
                // DOCUMENT in `inputs/` whose ingestion is reported later (SYNC-*).
                field.bytes().await.map_err(multipart_err)?;
                cmd.uploads.push(NewUpload {
                    name: file_name,
                    ingestion: Ingestion::Pending,
                });
                continue;
            }
            let text = field.text().await.map_err(multipart_err)?;
            match name.as_str() {
                "input_scope" => cmd.input_scope.extend(
                    parse_id_list("input_scope", &text)?
                        .into_iter()
                        .map(PathPartId),
                ),
                "selected_skill_ids" => cmd
                    .selected_skill_ids
                    .extend(parse_id_list("selected_skill_ids", &text)?),
                "idempotency_key" => cmd.idempotency_key = Some(text),
                "auto_start" => cmd.auto_start = parse_bool("auto_start", text.trim())?,
                "user_message" => cmd.auto_start_user_message = Some(text),
                "name" => cmd.name = Some(text),
                // HTTP-3: unknown fields are ignored (a newer client may send more).
                _ => {}
            }
        }
        return Ok(cmd);
    }
    let bytes = body_bytes(req, state).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(cmd);
    }
    if !content_type.is_empty() && !content_type.contains("json") {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("unsupported content type {content_type:?}: send multipart/form-data or JSON"),
        ));
    }
    let j: CreateRunJson = parse_json(&bytes)?;
    cmd.input_scope = j
        .input_scope
        .unwrap_or_default()
        .into_iter()
        .map(PathPartId)
        .collect();
    cmd.idempotency_key = j.idempotency_key;
    cmd.auto_start = j.auto_start.unwrap_or(false);
    cmd.auto_start_user_message = j.user_message;
    cmd.name = j.name;
    cmd.selected_skill_ids = j.selected_skill_ids.unwrap_or_default();
    Ok(cmd)
}
