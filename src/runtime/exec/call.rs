//! Calls of user functions: a fresh scope with the arguments converted to the declared types,
//! defaults evaluated in the function's scope, the body run, the outputs read back.

use crate::compiler::block::Scope;
use crate::compiler::program::Function;
use crate::gpu::GpuValue;
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::{MAX_CALL_DEPTH, Runtime, Slots};
use crate::runtime::lineage::LinRef;
use crate::types::value::Value;

impl Runtime<'_> {
    /// Calls a user function with arguments in parameter order (`None` = not given).
    pub fn call_function(&self, fid: u32, args: Vec<Option<Value>>, depth: usize) -> RtResult<Vec<Value>> {
        self.call_function_traced(fid, args, Vec::new(), depth).map(|(outs, _)| outs)
    }

    /// [`Runtime::call_function`] with the arguments' lineage; returns the outputs' lineage too
    /// (empty when lineage is not traced).
    pub(crate) fn call_function_traced(
        &self,
        fid: u32,
        args: Vec<Option<Value>>,
        arg_lins: Vec<Option<LinRef>>,
        depth: usize,
    ) -> RtResult<(Vec<Value>, Vec<Option<LinRef>>)> {
        let args = args.into_iter().map(|a| a.map(GpuValue::Host)).collect();
        let (outs, lins) = self.call(fid, args, arg_lins, depth)?;
        let outs = outs.into_iter().map(|v| v.into_host().map_err(RtError::new)).collect::<RtResult<_>>()?;
        Ok((outs, lins))
    }

    /// [`Runtime::call_function`] with arguments and outputs that may be matrices on the device
    /// (they stay there).
    pub(crate) fn call_function_values(
        &self,
        fid: u32,
        args: Vec<Option<GpuValue>>,
        depth: usize,
    ) -> RtResult<Vec<GpuValue>> {
        self.call(fid, args, Vec::new(), depth).map(|(outs, _)| outs)
    }

    fn call(
        &self,
        fid: u32,
        args: Vec<Option<GpuValue>>,
        arg_lins: Vec<Option<LinRef>>,
        depth: usize,
    ) -> RtResult<(Vec<GpuValue>, Vec<Option<LinRef>>)> {
        let func: &Function = &self.program.functions[fid as usize];
        if depth > MAX_CALL_DEPTH {
            return Err(RtError::new(format!(
                "function calls nested deeper than {MAX_CALL_DEPTH} (runaway recursion in `{}`?)",
                func.name
            )));
        }
        if func.external {
            return Err(RtError::new(format!(
                "`{}` is an externalFunction (Java code), which this engine cannot run",
                func.name
            )));
        }
        let scope = Scope { module: func.module, vars: &func.vars };
        let inner = Runtime { module: func.module, ..*self };
        let this = &inner;
        let mut slots = Slots::new(func.vars.len());
        for (i, a) in args.into_iter().enumerate() {
            let slot = func.param_slots[i] as usize;
            match a {
                Some(GpuValue::Host(v)) => slots.set(slot, to_declared(v, &func.params[i].ty)),
                Some(GpuValue::Device(d)) => slots.set_device(slot, d),
                None => {}
            }
        }
        if self.tracer.is_some() {
            for (i, l) in arg_lins.into_iter().enumerate() {
                if l.is_some() && i < func.param_slots.len() {
                    slots.set_lin(func.param_slots[i] as usize, l);
                }
            }
        }
        for (i, d) in func.defaults.iter().enumerate() {
            let slot = func.param_slots[i] as usize;
            if slots.vals[slot].is_none() && slots.device(slot).is_none() {
                match d {
                    Some(pred) => {
                        let v = this.eval_predicate(scope, pred, &mut slots, depth)?;
                        slots.set(slot, v);
                    }
                    None => {
                        return Err(RtError::new(format!(
                            "missing argument `{}` in the call of `{}`",
                            func.params[i].name.name, func.name
                        )));
                    }
                }
            }
        }
        this.run_blocks(scope, &func.body, &mut slots, depth)?;
        let mut outs = Vec::with_capacity(func.return_slots.len());
        let out_lins: Vec<Option<LinRef>> = if this.tracer.is_some() {
            func.return_slots.iter().map(|&s| slots.lin_of(s as usize)).collect()
        } else {
            Vec::new()
        };
        for (i, &slot) in func.return_slots.iter().enumerate() {
            if let Some(d) = slots.take_device(slot as usize) {
                outs.push(GpuValue::Device(d));
                continue;
            }
            match slots.vals[slot as usize].take() {
                Some(v) => outs.push(GpuValue::Host(to_declared_output(v, &func.returns[i].ty))),
                None => {
                    return Err(RtError::new(format!(
                        "function `{}` ended without assigning its output `{}`",
                        func.name, func.returns[i].name.name
                    )));
                }
            }
        }
        Ok((outs, out_lins))
    }
}

/// A function's output as its caller sees it. SystemDS rejects, at compile time, an output whose
/// value type is known and cannot be cast safely to the declared one; where the type is only known
/// at run time (assigned differently in two branches), it binds the value unchanged. So a double
/// stays a double even when declared `integer` or `boolean` (knnGraph's `kthSmallest` relies on
/// it); the safe casts (integer or boolean to double, boolean to integer) still apply.
fn to_declared_output(v: Value, spec: &crate::syntax::ast::TypeSpec) -> Value {
    match v {
        Value::Double(_) => v,
        v => to_declared(v, spec),
    }
}

/// Converts a scalar to the value type a function declares for it (int to double and so on).
fn to_declared(v: Value, spec: &crate::syntax::ast::TypeSpec) -> Value {
    use crate::syntax::ast::{DataType, ValueType};
    if spec.data != DataType::Scalar {
        return v;
    }
    match (spec.value, &v) {
        (ValueType::Double, Value::Int(i)) => Value::Double(*i as f64),
        (ValueType::Double, Value::Bool(b)) => Value::Double(*b as i64 as f64),
        (ValueType::Int, Value::Double(d)) => Value::Int(*d as i64),
        (ValueType::Int, Value::Bool(b)) => Value::Int(*b as i64),
        (ValueType::Boolean, Value::Int(i)) => Value::Bool(*i != 0),
        (ValueType::Boolean, Value::Double(d)) => Value::Bool(*d != 0.0),
        _ => v,
    }
}
