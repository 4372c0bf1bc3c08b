//! A demo producer for the SAM application: an HTTP API (API Gateway, payload format 2.0) that meters every call
//! per customer with `logmeter::emit`, as a SaaS API would. Deployed when the stack's `DeployDemo` is `true`.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};

async fn call(event: LambdaEvent<ApiGatewayV2httpRequest>) -> Result<ApiGatewayV2httpResponse, Error> {
    let req = &event.payload;
    let customer = req.headers.get("x-customer-id").and_then(|v| v.to_str().ok());
    let route = req.route_key.as_deref().unwrap_or("$default");
    let request_id = req.request_context.request_id.as_deref().unwrap_or(&event.context.request_id);
    let mut resp = ApiGatewayV2httpResponse::default();
    resp.headers.insert("content-type", http::HeaderValue::from_static("application/json"));
    match logmeter::emit::api_call(customer, route, request_id, req.request_context.time_epoch) {
        Some(meter) => {
            meter.emit()?;
            resp.status_code = 200;
            resp.body = Some(Body::Text(
                serde_json::json!({"customer": meter.customer_id, "metered": "api-calls"}).to_string(),
            ));
        }
        None => {
            resp.status_code = 400;
            resp.body = Some(Body::Text(r#"{"error":"send the x-customer-id header"}"#.into()));
        }
    }
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(call)).await
}
