//! Host values ↔ ONNX Runtime tensors: an input fed in the element type its graph declares
//! (f32, f16, u8, i8; the values drawn as f32 and converted), an output read back as f32
//! whatever its type.

use ort::value::{DynTensor, DynValue, Tensor, TensorElementType};

use super::err;
use crate::error::Result;
use crate::import::InputType;

/// A tensor of shape `dims` holding `data` as `elem`.
pub(super) fn input(dims: &[usize], data: &[f32], elem: InputType) -> Result<DynTensor> {
    let dims: Vec<i64> = dims.iter().map(|d| *d as i64).collect();
    Ok(match elem {
        InputType::F32 => Tensor::from_array((dims, data.to_vec()))
            .map_err(err)?
            .upcast(),
        InputType::F16 => {
            let v: Vec<half::f16> = data.iter().map(|x| half::f16::from_f32(*x)).collect();
            Tensor::from_array((dims, v)).map_err(err)?.upcast()
        }
        InputType::U8 => {
            let v: Vec<u8> = data.iter().map(|x| *x as u8).collect();
            Tensor::from_array((dims, v)).map_err(err)?.upcast()
        }
        InputType::I8 => {
            let v: Vec<i8> = data.iter().map(|x| *x as i8).collect();
            Tensor::from_array((dims, v)).map_err(err)?.upcast()
        }
    })
}

/// `value`'s elements as f32 (f32, f16, u8 or i8 outputs).
pub(super) fn to_f32(value: &DynValue) -> Result<Vec<f32>> {
    let ty = value
        .dtype()
        .tensor_type()
        .ok_or_else(|| err("the output is not a tensor"))?;
    Ok(match ty {
        TensorElementType::Float32 => value.try_extract_tensor::<f32>().map_err(err)?.1.to_vec(),
        TensorElementType::Float16 => {
            let (_, v) = value.try_extract_tensor::<half::f16>().map_err(err)?;
            v.iter().map(|x| x.to_f32()).collect()
        }
        TensorElementType::Uint8 => {
            let (_, v) = value.try_extract_tensor::<u8>().map_err(err)?;
            v.iter().map(|x| f32::from(*x)).collect()
        }
        TensorElementType::Int8 => {
            let (_, v) = value.try_extract_tensor::<i8>().map_err(err)?;
            v.iter().map(|x| f32::from(*x)).collect()
        }
        other => return Err(err(format!("an output of type {other} is not read back"))),
    })
}
